//! `patron`: one binary for import, export, analysis and the web interface.

/// Every line the CLI prints goes through [`terminal::safe`]: stored text (a ticket subject, a
/// lead's name) holding ESC or other control characters is shown escaped, never sent to the
/// terminal raw. These shadow the standard macros in the whole binary.
macro_rules! println {
    () => { std::println!() };
    ($($arg:tt)*) => { std::println!("{}", $crate::terminal::safe(&format!($($arg)*))) };
}
macro_rules! eprintln {
    () => { std::eprintln!() };
    ($($arg:tt)*) => { std::eprintln!("{}", $crate::terminal::safe(&format!($($arg)*))) };
}

mod cli;
mod commands;
mod config;
mod monitoring;
mod serve;
mod terminal;

fn main() -> std::process::ExitCode {
    // The settings first (configuration file, command line, environment), then the logging
    // they choose, then the runtime: `config::parse` may set variables, before any thread.
    let started = config::parse().and_then(|cli| {
        let (filter, format) = config::logging()?;
        let logs = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        match format {
            config::LogFormat::Text => logs.init(),
            config::LogFormat::Json => logs.json().init(),
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        Ok((cli, runtime))
    });
    let (cli, runtime) = match started {
        Ok(started) => started,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
