//! AFL target `values`: the body and its invariants are `stairkv_fuzz::fuzz_values`.
//! Built and run by `make fuzz` (fuzz/run.sh) under cargo-afl.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        stairkv_fuzz::fuzz_values(data);
    });
}
