//! The words generated text is made of: clinical-reporting vocabulary, so that the data
//! reads like the real thing in a demo and text filters have something to match.

use fastrand::Rng;

/// One entry of `list`, chosen uniformly.
pub(super) fn pick(rng: &mut Rng, list: &[&'static str]) -> &'static str {
    list[rng.u32(0..list.len() as u32) as usize]
}

pub(super) const FIRST_NAMES: &[&str] = &[
    "anna", "ben", "chen", "diego", "elena", "farah", "gustav", "hana", "ivan", "julia", "kofi", "lena", "marco",
    "nadia", "omar", "priya", "quentin", "rosa", "sven", "tariq", "ursula", "victor", "wei", "ximena", "yusuf", "zoe",
];

pub(super) const LAST_NAMES: &[&str] = &[
    "andersen", "brown", "costa", "dubois", "eriksson", "fischer", "garcia", "haddad", "ito", "jensen", "kowalski",
    "larsen", "meyer", "nakamura", "okafor", "patel", "quinn", "rossi", "schmidt", "tanaka", "uddin", "varga",
    "wagner", "xu", "yilmaz", "zhang",
];

/// Therapeutic-area prefixes of study labels.
pub(super) const STUDY_PREFIXES: &[&str] = &["ONC", "CAR", "NEU", "IMM", "RES", "MET", "INF", "DER"];

pub(super) const RELEASE_KINDS: &[&str] =
    &["Interim 1 database lock", "Final database lock", "Interim 2 database lock", "Safety update snapshot"];

pub(super) const EFFORT_KINDS: &[&str] =
    &["CSR", "Interim Analysis", "DSUR", "Safety Update", "DMC Review", "Topline Results", "ISS", "ISE"];

pub(super) const TOPICS: &[&str] = &[
    "Demographic and Baseline Characteristics",
    "Subject Disposition",
    "Protocol Deviations",
    "Medical History",
    "Prior and Concomitant Medications",
    "Study Drug Exposure",
    "Treatment-Emergent Adverse Events by System Organ Class",
    "Serious Adverse Events",
    "Adverse Events Leading to Discontinuation",
    "Laboratory Values Over Time",
    "Shifts in Laboratory Grades",
    "Vital Signs",
    "ECG Intervals",
    "Change from Baseline in Primary Endpoint",
    "Time to First Event",
    "Overall Survival",
    "Progression-Free Survival",
    "Responder Rates at Week 12",
];

pub(super) const POPULATIONS: &[&str] = &[
    "Safety Population",
    "Full Analysis Set",
    "Per Protocol Set",
    "Intent-to-Treat Population",
    "Pharmacokinetic Population",
    "Enrolled Population",
];

pub(super) const SDTM_DOMAINS: &[&str] = &["DM", "AE", "CM", "EX", "LB", "VS", "MH", "DS"];

pub(super) const ADAM_DATASETS: &[&str] = &["ADSL", "ADAE", "ADLB", "ADVS", "ADTTE", "ADEX", "ADCM"];

pub(super) const FOOTNOTES: &[&str] = &[
    "Percentages are based on the number of subjects in the population.",
    "A subject is counted only once per preferred term.",
    "Adverse events are coded using MedDRA version 27.0.",
    "Baseline is the last non-missing value before the first dose.",
    "Treatment-emergent events start on or after the first dose of study drug.",
    "Laboratory grades follow CTCAE version 5.0.",
    "Confidence intervals use the Clopper-Pearson method.",
    "Medians are estimated with the Kaplan-Meier method.",
    "Subjects may appear in more than one category.",
    "Missing values are not imputed.",
];

pub(super) const ACRONYMS: &[&str] = &[
    "AE = adverse event",
    "SAE = serious adverse event",
    "CI = confidence interval",
    "SD = standard deviation",
    "SOC = system organ class",
    "PT = preferred term",
    "ECG = electrocardiogram",
    "PK = pharmacokinetics",
    "BMI = body mass index",
    "ULN = upper limit of normal",
];

pub(super) const ICH_CATEGORIES: &[&str] = &[
    "14.1 Demographic Data",
    "14.2 Efficacy Data",
    "14.3 Safety Data",
    "16.1 Study Information",
    "16.2 Subject Data Listings",
];

pub(super) const COMMENT_SENTENCES: &[&str] = &[
    "Please check the denominator in the first row.",
    "The column headers do not match the shell.",
    "Sorting should follow the SAP, by treatment then visit.",
    "Footnote 2 is missing from the output.",
    "Counts differ from the QC program by one subject.",
    "The population flag seems to exclude screen failures twice.",
    "Can we round percentages to one decimal?",
    "Baseline derivation needs the unscheduled visits.",
    "Titles should use the updated study drug name.",
    "The log shows a note about uninitialised variables.",
    "Biostat review: the model should include the stratification factors.",
    "Page breaks split a subject across pages.",
];

pub(super) const REPLY_SENTENCES: &[&str] = &[
    "Fixed in the latest run.",
    "Agreed, the spec has been updated.",
    "This follows the SAP section 9.2, keeping as is.",
    "Rerun done, QC matches now.",
    "Will address after the next data transfer.",
    "Could you point me to the row in question?",
];

/// Tag names with their descriptions; scales wanting more tags number further rounds.
pub(super) const TAGS: &[(&str, &str)] = &[
    ("urgent", "Needed before the next milestone."),
    ("blocked", "Waiting on data, specs or another output."),
    ("needs-review", "Ready for a lead programmer's review."),
    ("safety", "Safety outputs."),
    ("efficacy", "Efficacy outputs."),
    ("interim", "Part of an interim delivery."),
    ("final", "Part of the final delivery."),
    ("rerun", "Must be rerun on refreshed data."),
    ("spec-change", "The specification changed after programming started."),
    ("sap-update", "Affected by a SAP amendment."),
    ("regulatory", "Requested by a health authority."),
    ("dmc", "For the data monitoring committee."),
    ("publication", "Supports a manuscript or congress abstract."),
    ("pk", "Pharmacokinetic outputs."),
    ("subgroup", "Subgroup analyses."),
    ("sensitivity", "Sensitivity analyses."),
    ("ad-hoc", "Requested outside the planned outputs."),
    ("validated", "Independently double-programmed."),
    ("low-risk", "Simple output, light QC."),
    ("high-risk", "Complex output, full double programming."),
];
