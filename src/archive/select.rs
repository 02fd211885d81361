//! Choosing Science Windows as ODA does.
//!
//! Pointings within `radius` degrees of the target whose TSTART and TSTOP both lie in
//! [T1, T2], restricted to the era of `osa_version`; when more than `max_pointings` remain, a
//! reproducible random pick (fixed seed) of `max_pointings` of them, sorted. Or an explicit
//! `scw_list`, which replaces the time and position selection.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{ScienceWindow, ScwId, ScwIndex};
use crate::error::{Error, Result};
use crate::osa::OsaVersion;
use crate::sky::{SkyCoord, resolve};
use crate::time::{Time, TimeFormat};

/// Default search radius for ISGRI, degrees (ODA's default).
pub const DEFAULT_RADIUS_DEG: f64 = 15.0;
/// Default maximum number of pointings (ODA's default).
pub const DEFAULT_MAX_POINTINGS: usize = 50;
/// The fixed seed of the random pick: the same request always selects the same pointings.
const SELECTION_SEED: u64 = 0x0DA5_E1EC;

/// The parameter names a selection understands.
pub const SELECTION_KEYS: [&str; 10] = [
    "src_name",
    "RA",
    "DEC",
    "radius",
    "T1",
    "T2",
    "T_format",
    "max_pointings",
    "scw_list",
    "osa_version",
];

/// What to select, by position and time or by explicit list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScwSelection {
    /// The source name, if one was given.
    pub src_name: Option<String>,
    /// The target position (resolved from `src_name` unless RA and DEC were given).
    pub target: Option<SkyCoord>,
    /// Search radius, degrees.
    pub radius: f64,
    /// Start of the time span.
    pub t1: Option<Time>,
    /// End of the time span.
    pub t2: Option<Time>,
    /// At most this many pointings.
    pub max_pointings: usize,
    /// An explicit list, replacing position and time selection.
    pub scw_list: Option<Vec<ScwId>>,
    /// The OSA version whose era limits the selection.
    pub osa_version: OsaVersion,
}

fn parse_number(name: &str, value: &str, allowed: &str) -> Result<f64> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| Error::invalid(name, value, allowed))
}

impl ScwSelection {
    /// A selection from ODA-style `key=value` parameters (see [`SELECTION_KEYS`]).
    ///
    /// # Errors
    /// Unknown keys, malformed values, RA/DEC out of range, a non-positive radius, T1 not before
    /// T2, a missing target or time span, or a malformed SWID — each naming the parameter.
    ///
    /// ```
    /// use oda::archive::ScwSelection;
    /// let s = ScwSelection::from_pairs([("src_name", "Crab"), ("T1", "2003-03-15"), ("T2", "2018-03-16")])?;
    /// assert!((s.target.unwrap().ra() - 83.633).abs() < 0.01);
    /// let e = ScwSelection::from_pairs([("RA", "400"), ("DEC", "0"), ("T1", "2003-03-15"), ("T2", "2004-01-01")]).unwrap_err();
    /// assert_eq!(e.parameter(), Some("RA"));
    /// # Ok::<(), oda::Error>(())
    /// ```
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<ScwSelection> {
        let mut get = std::collections::BTreeMap::new();
        for (k, v) in pairs {
            let (k, v) = (k.as_ref(), v.as_ref());
            if !SELECTION_KEYS.contains(&k) {
                return Err(Error::invalid(
                    k,
                    v,
                    format!("a known parameter: {}", SELECTION_KEYS.join(", ")),
                ));
            }
            get.insert(k.to_string(), v.to_string());
        }
        let format: TimeFormat = match get.get("T_format") {
            Some(f) => f.parse()?,
            None => TimeFormat::Isot,
        };
        let time = |key: &str| -> Result<Option<Time>> {
            get.get(key)
                .map(|v| {
                    Time::parse(v, format).map_err(|e| match e {
                        Error::InvalidParameter { allowed, .. } => {
                            Error::invalid(key, v, format!("{allowed} (T_format={format})"))
                        }
                        other => other,
                    })
                })
                .transpose()
        };
        let (t1, t2) = (time("T1")?, time("T2")?);
        let coordinate = |key: &str| -> Result<Option<f64>> {
            get.get(key)
                .map(|v| parse_number(key, v, "a number of degrees"))
                .transpose()
        };
        let target = match (coordinate("RA")?, coordinate("DEC")?) {
            (Some(ra), Some(dec)) => Some(SkyCoord::new(ra, dec)?),
            (Some(_), None) => {
                return Err(Error::invalid("DEC", "(missing)", "DEC together with RA"));
            }
            (None, Some(_)) => {
                return Err(Error::invalid("RA", "(missing)", "RA together with DEC"));
            }
            (None, None) => match get.get("src_name") {
                Some(name) => Some(resolve(name)?),
                None => None,
            },
        };
        let radius = match get.get("radius") {
            Some(v) => parse_number("radius", v, "degrees in (0, 180]")?,
            None => DEFAULT_RADIUS_DEG,
        };
        let max_pointings = match get.get("max_pointings") {
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| Error::invalid("max_pointings", v, "a whole number ≥ 1"))?,
            None => DEFAULT_MAX_POINTINGS,
        };
        let scw_list = get
            .get("scw_list")
            .map(|v| {
                v.split([',', ' '])
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.parse::<ScwId>())
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?;
        let osa_version = match get.get("osa_version") {
            Some(v) => v.parse()?,
            None => OsaVersion::default(),
        };
        let sel = ScwSelection {
            src_name: get.get("src_name").cloned(),
            target,
            radius,
            t1,
            t2,
            max_pointings,
            scw_list,
            osa_version,
        };
        sel.validate()?;
        Ok(sel)
    }

    /// Checks the combination of parameters.
    ///
    /// # Errors
    /// As for [`ScwSelection::from_pairs`].
    pub fn validate(&self) -> Result<()> {
        if !(self.radius > 0.0 && self.radius <= 180.0) {
            return Err(Error::invalid("radius", self.radius, "degrees in (0, 180]"));
        }
        if self.max_pointings == 0 {
            return Err(Error::invalid("max_pointings", 0, "a whole number ≥ 1"));
        }
        if let (Some(t1), Some(t2)) = (self.t1, self.t2)
            && t1 >= t2
        {
            return Err(Error::invalid(
                "T1",
                t1.to_isot(),
                format!("a time before T2 = {}", t2.to_isot()),
            ));
        }
        match &self.scw_list {
            Some(list) if list.is_empty() => Err(Error::invalid(
                "scw_list",
                "",
                "one or more ScW ids RRRRPPPPSSSF[.VVV]",
            )),
            Some(_) => Ok(()),
            None => {
                if self.target.is_none() {
                    return Err(Error::invalid(
                        "src_name",
                        "(missing)",
                        "src_name, or RA and DEC, or a scw_list",
                    ));
                }
                if self.t1.is_none() {
                    return Err(Error::invalid(
                        "T1",
                        "(missing)",
                        "a start time (or a scw_list)",
                    ));
                }
                if self.t2.is_none() {
                    return Err(Error::invalid(
                        "T2",
                        "(missing)",
                        "an end time (or a scw_list)",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// The outcome of a selection: the chosen pointings and what was left out, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// The chosen Science Windows, sorted by identifier.
    pub scws: Vec<ScienceWindow>,
    /// How many pointings matched before the random pick.
    pub candidates: usize,
    /// Remarks for the user (ScWs left out, and which version covers them).
    pub comments: Vec<String>,
    /// The request.
    pub request: ScwSelection,
}

impl Selection {
    /// The chosen Science Windows.
    pub fn scws(&self) -> &[ScienceWindow] {
        &self.scws
    }

    /// Their identifiers.
    pub fn ids(&self) -> Vec<ScwId> {
        self.scws.iter().map(|s| s.swid).collect()
    }
}

/// Applies `sel` to `index`.
///
/// # Errors
/// [`Error::ScienceWindow`] for list entries not in the index; [`Error::EmptySelection`] when
/// nothing matches, or when everything that matches lies outside the OSA version's era (the
/// message names the version to use).
pub fn select(index: &ScwIndex, sel: &ScwSelection) -> Result<Selection> {
    select_where(index, sel, &|_| true, "", "")
}

/// Applies `sel` to `index` keeping only the Science Windows `keep` accepts, before
/// `max_pointings` picks among them: those with data of an instrument that was not always on
/// (a JEM-X unit). `lacking` names what the others lack, for the remark and the error;
/// `advice` is added to the error.
///
/// # Errors
/// As [`select`]; [`Error::EmptySelection`] naming `lacking` when `keep` accepts none.
pub fn select_where(
    index: &ScwIndex,
    sel: &ScwSelection,
    keep: &(dyn Fn(&ScienceWindow) -> bool + Sync),
    lacking: &str,
    advice: &str,
) -> Result<Selection> {
    sel.validate()?;
    let mut comments = Vec::new();
    let matched: Vec<&ScienceWindow> = match &sel.scw_list {
        Some(list) => {
            let mut ids = list.clone();
            ids.sort();
            ids.dedup();
            let mut rows = Vec::with_capacity(ids.len());
            for id in &ids {
                match index.scws.binary_search_by(|s| s.swid.cmp(id)) {
                    Ok(i) => rows.push(&index.scws[i]),
                    Err(_) => {
                        return Err(Error::ScienceWindow {
                            swid: id.with_version(),
                            reason: "not in the archive's ScW index".into(),
                        });
                    }
                }
            }
            rows
        }
        None => {
            // validate() guarantees these for position/time selections.
            let (Some(target), Some(t1), Some(t2)) = (sel.target, sel.t1, sel.t2) else {
                return Err(Error::invalid(
                    "src_name",
                    "(missing)",
                    "src_name, or RA and DEC, or a scw_list",
                ));
            };
            let rows: Vec<&ScienceWindow> = index
                .scws
                .iter()
                .filter(|s| s.swid.is_pointing())
                .filter(|s| s.tstart >= t1.ijd() && s.tstop <= t2.ijd())
                .filter(|s| s.attitude.pointing().separation(&target) <= sel.radius)
                .collect();
            if rows.is_empty() {
                return Err(Error::EmptySelection {
                    reason: format!(
                        "no pointing within {}° of {target} between T1 = {} and T2 = {}; widen radius or the time span",
                        sel.radius,
                        t1.to_isot(),
                        t2.to_isot()
                    ),
                });
            }
            rows
        }
    };
    let (kept, left): (Vec<&ScienceWindow>, Vec<&ScienceWindow>) = matched
        .into_iter()
        .partition(|s| sel.osa_version.covers(s.swid.revolution()));
    if !left.is_empty() {
        let suggest = sel.osa_version.suggestion_for(left[0].swid.revolution());
        let examples: Vec<String> = left.iter().take(3).map(|s| s.swid.to_string()).collect();
        let note = format!(
            "{} ScW(s) outside the {} era left out (e.g. {}{}): {}; {} covers them",
            left.len(),
            sel.osa_version,
            examples.join(", "),
            if left.len() > 3 { ", …" } else { "" },
            sel.osa_version.era(),
            suggest
        );
        if kept.is_empty() {
            return Err(Error::EmptySelection {
                reason: format!("{note}: use osa_version={suggest}"),
            });
        }
        comments.push(note);
    }
    let (kept, without): (Vec<&ScienceWindow>, Vec<&ScienceWindow>) =
        kept.into_iter().partition(|s| keep(s));
    if !without.is_empty() {
        let examples: Vec<String> = without.iter().take(3).map(|s| s.swid.to_string()).collect();
        let note = format!(
            "{} ScW(s) without {lacking} left out (e.g. {}{})",
            without.len(),
            examples.join(", "),
            if without.len() > 3 { ", …" } else { "" },
        );
        if kept.is_empty() {
            return Err(Error::EmptySelection {
                reason: format!("no selected Science Window has {lacking} ({advice}): {note}"),
            });
        }
        comments.push(note);
    }
    let candidates = kept.len();
    let mut chosen: Vec<ScienceWindow> = if sel.scw_list.is_none() && kept.len() > sel.max_pointings
    {
        let mut pool = kept;
        let mut rng = ChaCha8Rng::seed_from_u64(SELECTION_SEED);
        pool.shuffle(&mut rng);
        pool.truncate(sel.max_pointings);
        comments.push(format!(
            "{candidates} pointings match; a reproducible random pick of max_pointings = {} of them is used",
            sel.max_pointings
        ));
        pool.into_iter().cloned().collect()
    } else {
        kept.into_iter().cloned().collect()
    };
    chosen.sort_by_key(|s| s.swid);
    Ok(Selection {
        scws: chosen,
        candidates,
        comments,
        request: sel.clone(),
    })
}
