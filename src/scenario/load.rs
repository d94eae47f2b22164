//! Loading a scenario: the file read (UTF-8 checked), ron's parse (`validate::deserialize`), the token positions
//! (`locate`), then validation and compilation (`validate::build`).

use std::path::Path;

use sha2::{Digest, Sha256};

use super::{locate, validate, Scenario, ScenarioError};

impl Scenario {
    /// Reads, parses and validates the scenario at `path`.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let origin = path.display().to_string();
        let text = crate::files::read_text(path, "scenario", crate::files::MAX_TEXT_INPUT).map_err(|msg| {
            // The message names the file (and a byte offset where one applies).
            ScenarioError { origin: String::new(), line: 0, col: 0, msg, hint: None }
        })?;
        Scenario::parse(&text, &origin)
    }

    /// `load` with the root seed replaced (every generator's stream is derived from it again).
    pub fn load_with_seed(path: &Path, seed: Option<u64>) -> Result<Scenario, ScenarioError> {
        let sc = Scenario::load(path)?;
        match seed {
            Some(s) if s != sc.seed => {
                let text = crate::files::read_text(path, "scenario", crate::files::MAX_TEXT_INPUT)
                    .map_err(|msg| ScenarioError { origin: String::new(), line: 0, col: 0, msg, hint: None })?;
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
