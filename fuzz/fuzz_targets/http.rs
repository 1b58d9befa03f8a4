//! AFL target `http`: the body and its invariants are `stairkv_fuzz::fuzz_http`.
//! Built and run by `make fuzz` (fuzz/run.sh) under cargo-afl.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        stairkv_fuzz::fuzz_http(data);
    });
}
