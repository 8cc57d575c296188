//! Finding the examples in a Markdown page.
//!
//! An example is a fenced ```` ```sh ```` block holding at least one `curl` line to
//! `http://127.0.0.1:8080` (or an `sqlite3 oxbase-demo/…` line), followed directly (on the next line) by a fenced block with what those lines
//! print. A `<!-- doc-test: skip (reason) -->` comment as the last non-blank line before
//! the `sh` block leaves the example out, and the reason is reported. Lines starting with
//! `#` are comments. Fences may be indented (inside a list item).

/// One example: the commands and the documented output.
pub struct Example {
    /// The page, for messages.
    pub page: String,
    /// The line of the opening ```` ```sh ```` (1-based).
    pub line: usize,
    /// The commands, each with its line.
    pub commands: Vec<(usize, String)>,
    /// The documented output, each line with its line number; `None` when no output block
    /// follows.
    pub expected: Option<Vec<(usize, String)>>,
    /// Why it is not run, when it is marked so.
    pub skip: Option<String>,
}

impl Example {
    /// `page:line`, for messages.
    pub fn place(&self) -> String {
        format!("{}:{}", self.page, self.line)
    }
}

struct Block {
    /// The line of the opening fence (1-based).
    line: usize,
    /// The info string, e.g. `sh`, `json` or empty.
    language: String,
    /// The lines inside, de-indented, with their line numbers.
    lines: Vec<(usize, String)>,
    /// The line of the closing fence.
    end: usize,
    /// The last non-blank line before the opening fence.
    preceded_by: String,
}

fn blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut index = 0;
    let mut last_text = String::new();
    while index < lines.len() {
        let trimmed = lines[index].trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            let indent = lines[index].len() - trimmed.len();
            let start = index;
            let mut inside = Vec::new();
            index += 1;
            while index < lines.len() && !lines[index].trim_start().starts_with("```") {
                let line = lines[index];
                let cut = line.len() - line.trim_start().len();
                inside.push((index + 1, line[cut.min(indent)..].to_owned()));
                index += 1;
            }
            blocks.push(Block {
                line: start + 1,
                language: info.trim().to_owned(),
                lines: inside,
                end: index + 1,
                preceded_by: std::mem::take(&mut last_text),
            });
        } else if !trimmed.is_empty() {
            last_text = trimmed.to_owned();
        }
        index += 1;
    }
    blocks
}

/// Whether a line of an `sh` block makes the block an example: a request to the demo (or
/// the second server of api.md §12), or a look into the demo's database. Blocks that
/// install things (`curl … | sh`) are not examples.
fn is_example_command(line: &str) -> bool {
    (line.starts_with("curl ") && (line.contains("http://127.0.0.1:8080") || line.contains("http://127.0.0.1:8081")))
        || line.starts_with("sqlite3 oxbase-demo/")
}

/// Every example of a page, in order.
pub fn examples(page: &str, text: &str) -> Vec<Example> {
    let blocks = blocks(text);
    let mut examples = Vec::new();
    for (position, block) in blocks.iter().enumerate() {
        if block.language != "sh" {
            continue;
        }
        let commands: Vec<(usize, String)> = block
            .lines
            .iter()
            .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
            .cloned()
            .collect();
        if !commands.iter().any(|(_, line)| is_example_command(line)) {
            continue;
        }
        let expected = blocks
            .get(position + 1)
            .filter(|next| next.line == block.end + 1 && next.language != "sh")
            .map(|next| next.lines.clone());
        let skip = block
            .preceded_by
            .strip_prefix("<!-- doc-test: skip")
            .and_then(|rest| rest.strip_suffix("-->"))
            .map(|reason| reason.trim().trim_start_matches('(').trim_end_matches(')').to_owned());
        examples.push(Example { page: page.to_owned(), line: block.line, commands, expected, skip });
    }
    examples
}
