//! Identities and provenance graphs of analysis units.
//!
//! A unit's [`Identity`] is the SHA-256 of its name, its version, its parameters (canonical
//! JSON: keys sorted, shortest round-trip numbers) and the identities of its inputs, in order.
//! It therefore names the whole tree of computations behind a product: change one parameter or
//! one version anywhere upstream and every identity downstream changes, nothing else does.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The identity of a unit: SHA-256 over its provenance, shown as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity([u8; 32]);

impl Identity {
    /// The full hex form.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The first 12 hex digits, enough to name an entry in a listing.
    pub fn short(&self) -> String {
        self.hex()[..12].to_string()
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.short())
    }
}

impl std::str::FromStr for Identity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Identity> {
        let s = s.trim();
        let bad = || Error::invalid("identity", s, "64 hexadecimal digits (a unit identity)");
        if s.len() != 64 || !s.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Identity(out))
    }
}

impl Serialize for Identity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

impl<'de> Deserialize<'de> for Identity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One node of a provenance graph: a unit's name, version, parameters and inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Unit name (`ScwImage`, `Mosaic`, ...).
    pub name: String,
    /// Unit version and the software's (`1 (oda 0.1.0)`): bump the unit's when its code
    /// changes its output; the software's changes with every release.
    pub version: String,
    /// Parameters, a JSON object.
    pub params: serde_json::Value,
    /// The input units, in the order the unit uses them.
    pub inputs: Vec<Arc<Node>>,
    /// Hash of all the above (inputs by identity).
    pub identity: Identity,
}

impl Node {
    /// A node; its identity is computed here from `name`, `version` followed by the crate's
    /// version, `params` and the inputs' identities.
    pub fn new(
        name: &str,
        version: &str,
        params: serde_json::Value,
        inputs: Vec<Arc<Node>>,
    ) -> Arc<Node> {
        // The software's version is part of every unit's version: an upgrade never reuses
        // products made by older code, even where a unit's own version was not bumped.
        let version = format!("{version} (oda {})", env!("CARGO_PKG_VERSION"));
        let ids: Vec<Identity> = inputs.iter().map(|n| n.identity).collect();
        let identity = identity_of(name, &version, &params, &ids);
        Arc::new(Node {
            name: name.to_string(),
            version,
            params,
            inputs,
            identity,
        })
    }

    /// The provenance graph rooted here.
    pub fn graph(self: &Arc<Node>) -> ProvenanceGraph {
        let mut nodes = Vec::new();
        let mut seen = BTreeSet::new();
        collect(self, &mut seen, &mut nodes);
        ProvenanceGraph {
            root: self.identity,
            nodes,
        }
    }
}

/// Depth-first, inputs before the node that uses them; shared inputs once.
fn collect(node: &Arc<Node>, seen: &mut BTreeSet<Identity>, out: &mut Vec<GraphNode>) {
    if !seen.insert(node.identity) {
        return;
    }
    for i in &node.inputs {
        collect(i, seen, out);
    }
    out.push(GraphNode {
        identity: node.identity,
        name: node.name.clone(),
        version: node.version.clone(),
        params: node.params.clone(),
        inputs: node.inputs.iter().map(|n| n.identity).collect(),
        available: true,
    });
}

/// The identity of a unit with these name, version, parameters and input identities.
pub fn identity_of(
    name: &str,
    version: &str,
    params: &serde_json::Value,
    inputs: &[Identity],
) -> Identity {
    let mut h = Sha256::new();
    // Length-prefixed fields: no two different provenances hash the same bytes.
    for field in [
        "oda-unit/1".as_bytes(),
        name.as_bytes(),
        version.as_bytes(),
        params.to_string().as_bytes(),
    ] {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field);
    }
    h.update((inputs.len() as u64).to_le_bytes());
    for i in inputs {
        h.update(i.0);
    }
    Identity(h.finalize().into())
}

/// A node of a [`ProvenanceGraph`], inputs by identity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphNode {
    /// Identity.
    pub identity: Identity,
    /// Unit name.
    pub name: String,
    /// Unit version.
    pub version: String,
    /// Parameters.
    pub params: serde_json::Value,
    /// Input identities.
    pub inputs: Vec<Identity>,
    /// False for a node known only by identity (its cache record was evicted).
    pub available: bool,
}

/// The provenance of a product: every unit behind it, inputs listed before their users.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProvenanceGraph {
    /// The product's identity.
    pub root: Identity,
    /// The units, inputs first, the root last.
    pub nodes: Vec<GraphNode>,
}

impl ProvenanceGraph {
    /// How many units of each name the graph holds, in order of first appearance.
    pub fn unit_counts(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = Vec::new();
        for n in &self.nodes {
            match out.iter_mut().find(|(name, _)| *name == n.name) {
                Some((_, c)) => *c += 1,
                None => out.push((n.name.clone(), 1)),
            }
        }
        out
    }

    /// Graphviz DOT: one box per unit (name, short identity, parameters), arrows from inputs to
    /// the units that use them. Render with `dot -Tsvg`.
    pub fn to_dot(&self) -> String {
        let mut s = String::from(
            "digraph provenance {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n",
        );
        for n in &self.nodes {
            let style = if n.identity == self.root {
                ", style=\"bold,filled\", fillcolor=\"#dde8f7\""
            } else if !n.available {
                ", style=dashed"
            } else {
                ""
            };
            s.push_str(&format!(
                "  \"{}\" [label=\"{}\\n{}{}\"{}];\n",
                n.identity.short(),
                dot_escape(&n.name),
                n.identity.short(),
                dot_escape(&params_brief(&n.params).replace('\n', "\\n")),
                style
            ));
        }
        for n in &self.nodes {
            for i in &n.inputs {
                s.push_str(&format!(
                    "  \"{}\" -> \"{}\";\n",
                    i.short(),
                    n.identity.short()
                ));
            }
        }
        s.push_str("}\n");
        s
    }
}

impl fmt::Display for ProvenanceGraph {
    /// One line per unit, inputs first: short identity, name@version, parameters, inputs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.nodes {
            let mark = if n.identity == self.root { "*" } else { " " };
            let params = params_brief(&n.params).replace('\n', " ");
            write!(
                f,
                "{mark} {} {}@{}{}",
                n.identity.short(),
                n.name,
                n.version,
                params
            )?;
            if !n.available {
                write!(f, " (record evicted)")?;
            }
            if !n.inputs.is_empty() {
                let ins: Vec<String> = n.inputs.iter().map(Identity::short).collect();
                if ins.len() > 4 {
                    write!(
                        f,
                        " <- {} inputs ({} … {})",
                        ins.len(),
                        ins[0],
                        ins[ins.len() - 1]
                    )?;
                } else {
                    write!(f, " <- {}", ins.join(", "))?;
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// `key=value` lines of a parameter object, long values shortened.
fn params_brief(params: &serde_json::Value) -> String {
    let Some(map) = params.as_object() else {
        return String::new();
    };
    map.iter()
        .map(|(k, v)| {
            let mut v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if v.chars().count() > 40 {
                v = format!("{}…", v.chars().take(39).collect::<String>());
            }
            format!("\n{k}={v}")
        })
        .collect()
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_changes_exactly_downstream() {
        let a = Node::new("Events", "1", json!({"swid": "004400210010"}), vec![]);
        let b = Node::new("Events", "1", json!({"swid": "004400220010"}), vec![]);
        let img = |e: &Arc<Node>, band: f64| {
            Node::new(
                "ScwImage",
                "1",
                json!({"E1_keV": 20.0, "E2_keV": band}),
                vec![e.clone()],
            )
        };
        let m1 = Node::new("Mosaic", "1", json!({}), vec![img(&a, 40.0), img(&b, 40.0)]);
        let m2 = Node::new("Mosaic", "1", json!({}), vec![img(&a, 40.0), img(&b, 40.0)]);
        assert_eq!(m1.identity, m2.identity, "same provenance, same identity");
        let m3 = Node::new("Mosaic", "1", json!({}), vec![img(&a, 40.0), img(&b, 60.0)]);
        assert_ne!(m1.identity, m3.identity);
        assert_eq!(
            m1.inputs[0].identity, m3.inputs[0].identity,
            "sibling unchanged"
        );
        let m4 = Node::new("Mosaic", "2", json!({}), vec![img(&a, 40.0), img(&b, 40.0)]);
        assert_ne!(m1.identity, m4.identity, "version changes identity");
        // Input order matters; parameter key order does not (canonical JSON).
        let m5 = Node::new("Mosaic", "1", json!({}), vec![img(&b, 40.0), img(&a, 40.0)]);
        assert_ne!(m1.identity, m5.identity);
        let p1: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
        let p2: serde_json::Value = serde_json::from_str(r#"{"b":2,"a":1}"#).unwrap();
        assert_eq!(
            Node::new("X", "1", p1, vec![]).identity,
            Node::new("X", "1", p2, vec![]).identity
        );
    }

    #[test]
    fn identity_parses_and_graph_renders() {
        let a = Node::new("Events", "1", json!({"swid": "004400210010"}), vec![]);
        let i = Node::new("ScwImage", "1", json!({"E1_keV": 20.0}), vec![a.clone()]);
        let m = Node::new("Mosaic", "1", json!({}), vec![i.clone(), i.clone()]);
        let id: Identity = m.identity.hex().parse().unwrap();
        assert_eq!(id, m.identity);
        assert!("xyz".parse::<Identity>().is_err());
        let g = m.graph();
        assert_eq!(g.nodes.len(), 3, "shared input listed once");
        assert_eq!(g.nodes[0].name, "Events");
        assert_eq!(g.unit_counts()[1], ("ScwImage".to_string(), 1));
        let dot = g.to_dot();
        assert!(dot.starts_with("digraph"));
        assert_eq!(dot.matches("->").count(), 3);
        assert!(g.to_string().contains("Mosaic@1"));
    }
}
