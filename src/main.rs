#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    leadsift::cli::main()
}
