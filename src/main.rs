//! The `leasebench` binary: parse the command line, call the library,
//! print the error chain on one line, exit with its code.

use clap::Parser;

fn main() {
    let cli = leasebench::cli::Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("leasebench: error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match rt.block_on(leasebench::cli::dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("leasebench: error: {}", leasebench::run::error_chain(&e));
            e.exit_code()
        }
    };
    drop(rt);
    std::process::exit(code);
}
