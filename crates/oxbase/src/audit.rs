//! `oxbase audit verify`: walks the audit trail's hash chain on the database a schema file
//! names.

use std::process::ExitCode;

use anyhow::anyhow;

use crate::cli::AuditCommand;
use crate::commands::write_line;
use crate::identity::open;

/// The exit code of a verification that found a break (1 is any other failure).
const BROKEN: u8 = 2;

/// `oxbase audit verify`.
pub async fn audit(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify(arguments) => {
            let app = open(&arguments).await?;
            let verification = app.store.audit_verify().await.map_err(|error| anyhow!("{error}"))?;
            let range = match (verification.first, verification.last) {
                (Some(first), Some(last)) => format!("batches {first} to {last}"),
                _ => "no batches".to_owned(),
            };
            match verification.broken {
                None => {
                    write_line(format_args!(
                        "audit chain intact: {range} ({} batches, {} records)",
                        verification.batches, verification.records
                    ))?;
                    Ok(ExitCode::SUCCESS)
                }
                Some(broken) => {
                    write_line(format_args!(
                        "audit chain broken at batch {}: {} ({} batches read)",
                        broken.batch, broken.reason, verification.batches
                    ))?;
                    Ok(ExitCode::from(BROKEN))
                }
            }
        }
    }
}
