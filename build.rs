//! Compiles the C packet shim (src/suricata/shim.c) when the `suricata` feature is on (the default).
//!
//! Packet and flow fields have no exported getters in Suricata 8, so a few lines of C compiled
//! against the installed headers read them. The headers are found, in order, from
//! `SURICATA_INCLUDE_DIR`, from `libsuricata-config --cflags` on PATH, or from the cached prefix
//! that scripts/setup.sh builds. Without them the build stops with one error line naming the fix.
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
    let flags = match suricata_cflags() {
        Ok(f) => f,
        Err(why) => {
            // `cargo::error` makes cargo print this as one `error:` line, without a backtrace.
            println!(
                "cargo::error={why}: run scripts/setup.sh, set SURICATA_INCLUDE_DIR to the \
                 directory holding suricata-common.h, or build the pure layers only with \
                 --no-default-features"
            );
            return;
        }
    };
    for flag in flags {
        build.flag(&flag);
    }
    build.compile("mqtt_ml_shim");
}

fn suricata_cflags() -> Result<Vec<String>, String> {
    if let Some(dir) = std::env::var_os("SURICATA_INCLUDE_DIR").map(PathBuf::from) {
        if !dir.join("suricata-common.h").is_file() {
            return Err(format!(
                "SURICATA_INCLUDE_DIR={} holds no suricata-common.h",
                dir.display()
            ));
        }
        return Ok(vec![format!("-I{}", dir.display())]);
    }
    if let Ok(out) = Command::new("libsuricata-config").arg("--cflags").output() {
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter(|f| f.starts_with("-I") || f.starts_with("-D"))
                .map(str::to_owned)
                .collect());
        }
    }
    let cache = std::env::var_os("MQTT_ML_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/mqtt-ml")));
    if let Some(dir) = cache.map(|c| c.join("suricata-8.0.7/include/suricata")) {
        if dir.join("suricata-common.h").is_file() {
            return Ok(vec![format!("-I{}", dir.display())]);
        }
    }
    Err("Suricata 8.0.7 headers not found".into())
}
