//! The `halo-billing` command: all the work is in the library.

fn main() {
    std::process::exit(halo_billing::cli::main());
}
