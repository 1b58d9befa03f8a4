//! AFL target `resp_pieces`: the body and its invariants are
//! `stairkv_fuzz::fuzz_resp_pieces`. Seeds: corpus/resp (same input layout).
//! Built and run by `make fuzz` (fuzz/run.sh) under cargo-afl.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        stairkv_fuzz::fuzz_resp_pieces(data);
    });
}
