//! Compiles the C packet shim (src/suricata/shim.c) when the `suricata` feature is on.
//!
//! Packet and flow fields have no exported getters in Suricata 8, so a few lines of C compiled
//! against the installed headers read them. The headers are found, in order, from
//! `SURICATA_INCLUDE_DIR`, from `libsuricata-config --cflags` on PATH, or from the cached prefix
//! that scripts/setup.sh builds.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=src/suricata/shim.c");
    println!("cargo:rerun-if-env-changed=SURICATA_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed=MQTT_ML_CACHE");
    if std::env::var_os("CARGO_FEATURE_SURICATA").is_none() {
        return;
    }
    let mut build = cc::Build::new();
    build
        .file("src/suricata/shim.c")
        .warnings(true)
        .flag_if_supported("-Wno-unused-parameter");
    for flag in suricata_cflags() {
        build.flag(&flag);
    }
    build.compile("mqtt_ml_shim");
}

fn suricata_cflags() -> Vec<String> {
    if let Some(dir) = std::env::var_os("SURICATA_INCLUDE_DIR") {
        return vec![format!("-I{}", PathBuf::from(dir).display())];
    }
    if let Ok(out) = Command::new("libsuricata-config").arg("--cflags").output() {
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter(|f| f.starts_with("-I") || f.starts_with("-D"))
                .map(str::to_owned)
                .collect();
        }
    }
    let cache = std::env::var_os("MQTT_ML_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/mqtt-ml")));
    if let Some(dir) = cache.map(|c| c.join("suricata-8.0.7/include/suricata")) {
        if dir.join("suricata-common.h").is_file() {
            return vec![format!("-I{}", dir.display())];
        }
    }
    panic!(
        "Suricata headers not found: run scripts/setup.sh, or set SURICATA_INCLUDE_DIR to the \
         directory holding suricata-common.h"
    );
}
