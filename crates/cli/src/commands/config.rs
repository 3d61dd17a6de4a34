//! `patron config show`: the effective settings and where each came from (flag, environment
//! variable, configuration file, default), database passwords masked.

use clap::Subcommand;

/// `patron config ...`.
#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Print the effective settings, each with its source (passwords masked).
    Show,
    /// Print the configuration file locations looked at when --config is not given.
    Paths,
}

pub fn run(cmd: ConfigCmd) -> anyhow::Result<()> {
    match cmd {
        ConfigCmd::Show => {
            let settings = crate::config::effective()?;
            let file = crate::config::file_in_use().unwrap_or_else(|| "(none)".into());
            println!("{:<20} {file}", "configuration file");
            let width = settings.iter().map(|s| s.value.len()).max().unwrap_or(0);
            for s in settings {
                println!("{:<20} {:<width$}  {}", s.key, s.value, s.source);
            }
        }
        ConfigCmd::Paths => {
            for p in crate::config::default_locations() {
                let here = if p.is_file() { "  (present)" } else { "" };
                println!("{}{here}", p.display());
            }
        }
    }
    Ok(())
}
