//! Reporting-effort items, the text elements they carry, and the footnote rows linking
//! the two.

use oxbase_schema::model::Literal;

use super::vocabulary::{self, ACRONYMS, ADAM_DATASETS, FOOTNOTES, ICH_CATEGORIES, POPULATIONS, SDTM_DOMAINS, TOPICS};
use super::{SeedSummary, Sizes, Table, chance, distinct_ids, integer, optional_text, random_stream, text, weighted};
use crate::RowSink;

const ITEM_COLUMNS: &[&str] =
    &["id", "reporting_effort_id", "item_type", "item_subtype", "item_code", "title", "is_active"];
const TEXT_ELEMENT_COLUMNS: &[&str] = &["id", "type", "label"];
const FOOTNOTE_COLUMNS: &[&str] = &["id", "reporting_effort_item_id", "text_element_id", "sequence_number"];

/// Which reporting effort each item belongs to. Items are numbered effort by effort:
/// effort 1, the big one, first, then the rest sharing the remainder evenly.
pub(super) struct EffortLayout {
    /// Index = effort id − 1.
    items_per_effort: Vec<u64>,
}

/// One item's place in the layout.
#[derive(Debug, Clone, Copy)]
pub(super) struct PlacedItem {
    pub(super) item_id: u64,
    pub(super) reporting_effort_id: u64,
    /// 1 for the effort's first item.
    pub(super) position_in_effort: u64,
}

impl EffortLayout {
    pub(super) fn new(sizes: &Sizes) -> EffortLayout {
        let other_efforts = sizes.reporting_efforts - 1;
        let shared_items = sizes.items - sizes.big_effort_items;
        let mut items_per_effort = vec![sizes.big_effort_items];
        items_per_effort.extend((0..other_efforts).map(|index| {
            let has_one_of_the_remainder = index < shared_items % other_efforts;
            shared_items / other_efforts + u64::from(has_one_of_the_remainder)
        }));
        EffortLayout { items_per_effort }
    }

    /// Every item, in id order.
    pub(super) fn items(&self) -> impl Iterator<Item = PlacedItem> + '_ {
        let mut first_item_id = 1;
        self.items_per_effort.iter().enumerate().flat_map(move |(index, &item_count)| {
            let first = first_item_id;
            first_item_id += item_count;
            (1..=item_count).map(move |position_in_effort| PlacedItem {
                item_id: first + position_in_effort - 1,
                reporting_effort_id: index as u64 + 1,
                position_in_effort,
            })
        })
    }
}

pub(super) fn emit_items<S: RowSink>(
    layout: &EffortLayout,
    sink: &mut S,
    summary: &mut SeedSummary,
) -> Result<(), S::Error> {
    let mut rng = random_stream("reporting_effort_items");
    let mut table = Table::new(sink, "reporting_effort_items", ITEM_COLUMNS);
    for item in layout.items() {
        let subtype = weighted(&mut rng, &[("Table", 40), ("Listing", 20), ("Figure", 20), ("SDTM", 8), ("ADaM", 12)]);
        let population = vocabulary::pick(&mut rng, POPULATIONS);
        let topic = vocabulary::pick(&mut rng, TOPICS);
        let section = rng.u32(1..=4);
        // The position is unique within the effort, so every code is, and with it the
        // (effort, type, subtype, code) key.
        let position = item.position_in_effort;
        let (item_type, code, title) = match subtype {
            "Table" => ("TLF", format!("14.{section}.{position}"), format!("Summary of {topic} ({population})")),
            "Listing" => ("TLF", format!("16.2.{section}.{position}"), format!("Listing of {topic} ({population})")),
            "Figure" => ("TLF", format!("14.{section}.{position}"), format!("Plot of {topic} ({population})")),
            _ => {
                let datasets = if subtype == "SDTM" { SDTM_DOMAINS } else { ADAM_DATASETS };
                let dataset = vocabulary::pick(&mut rng, datasets);
                ("Dataset", format!("{dataset}_{position}"), format!("{dataset} {subtype} dataset"))
            }
        };
        let title = (!chance(&mut rng, 5)).then_some(title);
        table.push(vec![
            integer(item.item_id),
            integer(item.reporting_effort_id),
            text(item_type),
            text(subtype),
            text(code),
            optional_text(title),
            Literal::Boolean(!chance(&mut rng, 5)),
        ])?;
    }
    table.finish(summary)
}

pub(super) fn emit_text_elements<S: RowSink>(
    sizes: &Sizes,
    sink: &mut S,
    summary: &mut SeedSummary,
) -> Result<(), S::Error> {
    let mut rng = random_stream("text_elements");
    let mut table = Table::new(sink, "text_elements", TEXT_ELEMENT_COLUMNS);
    for id in 1..=sizes.text_elements {
        let element_type = weighted(
            &mut rng,
            &[("title", 15), ("footnote", 50), ("population_set", 15), ("acronyms_set", 10), ("ich_category", 10)],
        );
        let label = match element_type {
            "title" => format!("Summary of {}", vocabulary::pick(&mut rng, TOPICS)),
            "footnote" => vocabulary::pick(&mut rng, FOOTNOTES).to_owned(),
            "population_set" => vocabulary::pick(&mut rng, POPULATIONS).to_owned(),
            "acronyms_set" => {
                let mut chosen = Vec::new();
                let acronym_count = rng.u32(3..=6) as usize;
                distinct_ids(&mut rng, ACRONYMS.len() as u64, acronym_count, &mut chosen);
                let definitions: Vec<&str> = chosen.iter().map(|&index| ACRONYMS[index as usize - 1]).collect();
                definitions.join("; ")
            }
            _ => vocabulary::pick(&mut rng, ICH_CATEGORIES).to_owned(),
        };
        table.push(vec![integer(id), text(element_type), text(label)])?;
    }
    table.finish(summary)
}

/// About two text elements per item, distinct within the item, numbered in order.
pub(super) fn emit_item_footnotes<S: RowSink>(
    sizes: &Sizes,
    sink: &mut S,
    summary: &mut SeedSummary,
) -> Result<(), S::Error> {
    let mut rng = random_stream("reporting_effort_item_footnotes");
    let mut table = Table::new(sink, "reporting_effort_item_footnotes", FOOTNOTE_COLUMNS);
    let mut text_element_ids = Vec::new();
    let mut id = 0;
    for item_id in 1..=sizes.items {
        let footnote_count = weighted(&mut rng, &[(0, 10), (1, 20), (2, 40), (3, 20), (4, 10)]);
        distinct_ids(&mut rng, sizes.text_elements, footnote_count, &mut text_element_ids);
        // Sorted ids would put every item's footnotes in id order; shuffle for realism.
        rng.shuffle(&mut text_element_ids);
        for (sequence_number, &text_element_id) in (1..).zip(&text_element_ids) {
            id += 1;
            table.push(vec![integer(id), integer(item_id), integer(text_element_id), integer(sequence_number)])?;
        }
    }
    table.finish(summary)
}
