//! Every parser of what comes from outside, over the seeds its fuzz target starts from (the
//! providers' published examples) and every input a fuzzer ever turned up (`fuzz/regressions`):
//! none panics, and each reads as its canonical form does. A finding of `scripts/fuzz` is kept
//! by copying its input into `fuzz/regressions/TARGET/`.

use std::path::Path;

#[test]
fn every_door_holds_on_its_seeds_and_on_every_finding_kept() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut read = 0;
    for (name, door) in malipo_providers::doors::ALL {
        let mut seeds = 0;
        for folder in ["seeds", "regressions"] {
            let dir = fuzz.join(folder).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                if let Err(why) = door(&data) {
                    panic!("{name}: {}: {why}", path.display());
                }
                seeds += usize::from(folder == "seeds");
                read += 1;
            }
        }
        assert!(seeds > 0, "{name} has no seeds in fuzz/seeds/{name}");
    }
    assert!(read >= malipo_providers::doors::ALL.len());
}
