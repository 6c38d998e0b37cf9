//! `malipo_providers::doors::ratiba_result` under libFuzzer: a panic, an allocation over the limit or a
//! reading that differs from the input's canonical form is a finding.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(why) = malipo_providers::doors::ratiba_result(data) {
        panic!("ratiba_result: {why}");
    }
});
