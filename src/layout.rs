//! Where mqtt-ml's files live, installed and in a development build, so that the plugin finds its
//! model relative to itself (never through a path compiled in) and `mqtt-ml install` puts every
//! file where the plugin and the command line look for it.
//!
//! An installation under a prefix `P` (`/usr/local` by default):
//!
//! | file | where |
//! |---|---|
//! | the plugin | `P/lib/suricata/libmqtt_ml.so` |
//! | the command line | `P/bin/mqtt-ml` |
//! | the model and its metadata | `P/share/mqtt-ml/mqtt-ml.tflite`, `.json` |
//! | rules and the suricata-update source (a tarball) | `P/share/mqtt-ml/rules/` |
//! | the yaml include | `P/etc/suricata/mqtt-ml.yaml` (`/etc/suricata/` for the prefix `/usr`) |
//!
//! That is Suricata's own layout: its stock suricata.yaml lists plugins as
//! `P/lib/suricata/<name>.so`, its event rules live in `P/share/suricata/rules/`, and its
//! configuration files in `P/etc/suricata/`.
//!
//! A development build keeps the plugin in `target/release/` and the model in `models/` of the
//! source tree.
use std::path::{Path, PathBuf};

/// The model's file name (its metadata is the `.json` beside it).
pub const MODEL_FILE: &str = "mqtt-ml.tflite";
/// The plugin's file name.
pub const PLUGIN_FILE: &str = "libmqtt_ml.so";
/// The command line's file name.
pub const CLI_FILE: &str = "mqtt-ml";
/// The rules tarball `suricata-update add-source` reads.
pub const RULES_TARBALL: &str = "mqtt-ml-rules.tar.gz";

/// The installed layout under a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    pub prefix: PathBuf,
}

impl Installed {
    pub fn new(prefix: impl Into<PathBuf>) -> Self {
        Installed {
            prefix: prefix.into(),
        }
    }

    /// `P/lib/suricata`, where Suricata's stock yaml lists its plugins.
    pub fn plugin_dir(&self) -> PathBuf {
        self.prefix.join("lib/suricata")
    }

    pub fn plugin(&self) -> PathBuf {
        self.plugin_dir().join(PLUGIN_FILE)
    }

    pub fn bin(&self) -> PathBuf {
        self.prefix.join("bin").join(CLI_FILE)
    }

    /// `P/share/mqtt-ml`: the model and its metadata.
    pub fn share(&self) -> PathBuf {
        self.prefix.join("share/mqtt-ml")
    }

    pub fn model(&self) -> PathBuf {
        self.share().join(MODEL_FILE)
    }

    /// `P/share/mqtt-ml/rules`: the rules files and the rules tarball.
    pub fn rules_dir(&self) -> PathBuf {
        self.share().join("rules")
    }

    /// Suricata's configuration directory: `P/etc/suricata`, or `/etc/suricata` for `/usr`.
    pub fn etc(&self) -> PathBuf {
        if self.prefix == Path::new("/usr") {
            PathBuf::from("/etc/suricata")
        } else {
            self.prefix.join("etc/suricata")
        }
    }

    /// The yaml include that loads the plugin with its outputs and settings.
    pub fn yaml_include(&self) -> PathBuf {
        self.etc().join("mqtt-ml.yaml")
    }

    /// The prefix an installed file of this layout lives under: `P/lib/suricata/x` or `P/bin/x`
    /// gives `P`, when `P/share/mqtt-ml` exists.
    pub fn containing(file: &Path) -> Option<Installed> {
        let dir = file.parent()?;
        [dir.parent(), dir.parent().and_then(Path::parent)]
            .into_iter()
            .flatten()
            .find(|p| p.join("share/mqtt-ml").is_dir())
            .map(Installed::new)
    }
}

/// The source tree a development build runs from: the nearest of the file's three closest
/// ancestors holding `Cargo.toml` and `models/` (`target/release/x` or
/// `target/<triple>/release/x` of a checkout).
pub fn source_tree_of(file: &Path) -> Option<PathBuf> {
    file.ancestors()
        .skip(1)
        .take(4)
        .find(|d| d.join("Cargo.toml").is_file() && d.join("models").is_dir())
        .map(Path::to_path_buf)
}

/// Where the plugin at `plugin` looks for its model when `model:` is not configured, in order:
/// an installation's `share/mqtt-ml/` (the plugin in `P/lib/suricata/` or `P/lib/`), the plugin's
/// own directory, then `models/` of the source tree of a development build.
pub fn model_candidates(plugin: &Path) -> Vec<PathBuf> {
    let Some(dir) = plugin.parent() else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = [dir.parent(), dir.parent().and_then(Path::parent)]
        .into_iter()
        .flatten()
        .map(|p| p.join("share/mqtt-ml").join(MODEL_FILE))
        .collect();
    v.push(dir.join(MODEL_FILE));
    if let Some(tree) = source_tree_of(plugin) {
        v.push(tree.join("models").join(MODEL_FILE));
    }
    v
}

/// The first candidate that exists; `Err` lists where it looked.
pub fn find_model(plugin: &Path) -> Result<PathBuf, Vec<PathBuf>> {
    let c = model_candidates(plugin);
    c.iter().find(|p| p.is_file()).cloned().ok_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mqtt-ml-layout-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn installed_plugin_finds_the_shared_model() {
        let p = tmp("installed");
        let inst = Installed::new(&p);
        touch(&inst.plugin());
        touch(&inst.model());
        assert_eq!(find_model(&inst.plugin()), Ok(inst.model()));
        assert_eq!(Installed::containing(&inst.plugin()), Some(inst.clone()));
        touch(&inst.bin());
        assert_eq!(Installed::containing(&inst.bin()), Some(inst.clone()));
        assert_eq!(inst.yaml_include(), p.join("etc/suricata/mqtt-ml.yaml"));
        assert_eq!(
            Installed::new("/usr").yaml_include(),
            Path::new("/etc/suricata/mqtt-ml.yaml")
        );
        let _ = std::fs::remove_dir_all(&p);
    }

    #[test]
    fn development_build_finds_the_source_tree_model() {
        let p = tmp("dev");
        touch(&p.join("Cargo.toml"));
        touch(&p.join("models").join(MODEL_FILE));
        let so = p.join("target/release").join(PLUGIN_FILE);
        touch(&so);
        assert_eq!(source_tree_of(&so), Some(p.clone()));
        assert_eq!(find_model(&so), Ok(p.join("models").join(MODEL_FILE)));
        // A copy of the plugin elsewhere does not reach back into the tree.
        let moved = p.join("elsewhere/much/deeper/down").join(PLUGIN_FILE);
        touch(&moved);
        let looked = find_model(&moved).unwrap_err();
        assert!(!looked.is_empty());
        assert!(looked.iter().all(|l| !l.starts_with(p.join("models"))));
        // ... unless the model is put beside it.
        touch(&moved.with_file_name(MODEL_FILE));
        assert_eq!(find_model(&moved), Ok(moved.with_file_name(MODEL_FILE)));
        assert_eq!(Installed::containing(&moved), None);
        let _ = std::fs::remove_dir_all(&p);
    }
}
