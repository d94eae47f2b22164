//! Loading a scenario: the file read (UTF-8 checked), ron's parse (`validate::deserialize`), the token positions
//! (`locate`), then validation and compilation (`validate::build`).

use std::path::Path;

use sha2::{Digest, Sha256};

use super::{locate, validate, Scenario, ScenarioError};

impl Scenario {
    /// Reads, parses and validates the scenario at `path`.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ScenarioError {
            origin: origin.clone(),
            line: 0,
            col: 0,
            msg: format!("cannot read scenario: {e}"),
            hint: None,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let valid = std::str::from_utf8(valid).unwrap_or_default();
            ScenarioError {
                origin: origin.clone(),
                line: 1 + valid.matches('\n').count(),
                col: 1 + valid.chars().rev().take_while(|&c| c != '\n').count(),
                msg: "scenario is not valid UTF-8".into(),
                hint: None,
            }
        })?;
        Scenario::parse(&text, &origin)
    }

    /// `load` with the root seed replaced (every generator's stream is derived from it again).
    pub fn load_with_seed(path: &Path, seed: Option<u64>) -> Result<Scenario, ScenarioError> {
        let sc = Scenario::load(path)?;
        match seed {
            Some(s) if s != sc.seed => {
                let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
                    origin: path.display().to_string(),
                    line: 0,
                    col: 0,
                    msg: format!("cannot read scenario: {e}"),
                    hint: None,
                })?;
                Scenario::parse_with_seed(&text, &path.display().to_string(), Some(s))
            }
            _ => Ok(sc),
        }
    }

    /// Parses and validates scenario text; `origin` names it in error messages and becomes [`Scenario::source`].
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_with_seed(text, origin, None)
    }

    /// `parse`, with the scenario's seed replaced when `seed` is given.
    pub fn parse_with_seed(text: &str, origin: &str, seed: Option<u64>) -> Result<Scenario, ScenarioError> {
        let mut doc = validate::deserialize(text, origin)?;
        if seed.is_some() {
            doc.seed = seed;
        }
        let root = locate::locate(text);
        let mut scenario = validate::build(doc, &root, origin)?;
        scenario.source = origin.to_string();
        scenario.sha256 = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        Ok(scenario)
    }
}
