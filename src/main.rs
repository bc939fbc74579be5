fn main() {
    let cli = qscope::cli::parse();
    if let Err(f) = qscope::cli::run(cli) {
        eprintln!("qscope: {}", f.reason);
        std::process::exit(f.code);
    }
}
