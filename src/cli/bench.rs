//! `ventral bench`.
use super::Failure;
use clap::Args;
#[derive(Args, Debug)]
pub struct BenchArgs {}
pub fn run(_: &BenchArgs) -> Result<(), Failure> {
    Ok(())
}
