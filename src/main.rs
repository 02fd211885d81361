//! The `oda` command line.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::json;

use oda::archive::{Archive, ScwId, ScwSelection, Selection};
use oda::config::{Settings, parse_seed};
use oda::time::Time;

/// INTEGRAL Online Data Analysis: ISGRI Science Windows from the command line.
#[derive(Parser, Debug)]
#[command(name = "oda", version, about)]
struct Cli {
    /// Data directory (simulated archive, cache); overrides ODA_DATA.
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<std::path::PathBuf>,
    /// Real archive root (with scw/ and idx/scw/); overrides ODA_ARCHIVE.
    #[arg(long, global = true, value_name = "DIR")]
    archive: Option<std::path::PathBuf>,
    /// Simulation seed; overrides ODA_SIM_SEED.
    #[arg(long, global = true, value_name = "N")]
    seed: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Science Windows: list a selection, or materialise event files.
    Scw {
        #[command(subcommand)]
        command: ScwCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ScwCommand {
    /// Select Science Windows with ODA parameters (src_name, RA, DEC, radius, T1, T2, T_format,
    /// max_pointings, scw_list, osa_version) and print one per line, SWID first.
    List {
        /// KEY=VALUE parameters, e.g. src_name=Crab T1=2003-03-15 T2=2018-03-16.
        #[arg(value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Print the selection as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Materialise the event files of Science Windows and print their paths. Give SWIDs, or
    /// KEY=VALUE selection parameters as for `list`.
    Fetch {
        /// SWIDs (RRRRPPPPSSSF[.001]) or KEY=VALUE selection parameters.
        #[arg(value_name = "SWID|KEY=VALUE", required = true)]
        items: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("oda: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn settings(cli: &Cli) -> oda::Result<Settings> {
    let mut s = Settings::from_env()?;
    if let Some(d) = &cli.data {
        s = s.with_data_dir(d);
    }
    if let Some(a) = &cli.archive {
        s = s.with_archive(a);
    }
    if let Some(seed) = &cli.seed {
        s = s.with_seed(parse_seed("--seed", seed)?);
    }
    Ok(s)
}

fn parse_pairs(params: &[String]) -> oda::Result<Vec<(String, String)>> {
    params
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.trim().to_string())),
            None => Err(oda::Error::invalid(p.as_str(), "(no value)", "KEY=VALUE")),
        })
        .collect()
}

/// Runs the command; `Ok(false)` when it reported failures of its own.
fn run(cli: Cli) -> oda::Result<bool> {
    let settings = settings(&cli)?;
    match &cli.command {
        Command::Scw { command } => match command {
            ScwCommand::List { params, json } => {
                let archive = Archive::open(&settings)?;
                let selection = archive.select(&ScwSelection::from_pairs(parse_pairs(params)?)?)?;
                if *json {
                    print_json(&selection)?;
                } else {
                    print_list(&selection)?;
                }
                Ok(true)
            }
            ScwCommand::Fetch { items } => fetch(&settings, items),
        },
    }
}

fn isot(ijd: f64) -> String {
    Time::from_ijd(ijd).map_or_else(|_| format!("IJD {ijd}"), |t| t.to_isot())
}

fn offset(selection: &Selection, s: &oda::archive::ScienceWindow) -> Option<f64> {
    selection
        .request
        .target
        .map(|t| t.separation(&s.attitude.pointing()))
}

fn print_list(selection: &Selection) -> oda::Result<()> {
    for c in &selection.comments {
        eprintln!("# {c}");
    }
    eprintln!("# {} Science Window(s) selected", selection.scws.len());
    eprintln!(
        "# SWID          RA_SCX   DEC_SCX  OFFSET  TSTART                   TSTOP                    TELAPSE"
    );
    let mut out = std::io::stdout().lock();
    for s in &selection.scws {
        let p = s.attitude.pointing();
        let off = offset(selection, s).map_or("     -".to_string(), |o| format!("{o:6.2}"));
        writeln!(
            out,
            "{}  {:7.3}  {:+7.3}  {}  {}  {}  {:7.0}",
            s.swid,
            p.ra(),
            p.dec(),
            off,
            isot(s.tstart),
            isot(s.tstop),
            s.telapse
        )
        .map_err(|e| oda::Error::io("stdout", e))?;
    }
    Ok(())
}

fn print_json(selection: &Selection) -> oda::Result<()> {
    let scws: Vec<_> = selection
        .scws
        .iter()
        .map(|s| {
            let p = s.attitude.pointing();
            let z = s.attitude.z_axis();
            json!({
                "swid": s.swid.to_string(),
                "ra_scx": p.ra(), "dec_scx": p.dec(), "ra_scz": z.ra(), "dec_scz": z.dec(),
                "offset_deg": offset(selection, s),
                "tstart_ijd": s.tstart, "tstop_ijd": s.tstop,
                "tstart": isot(s.tstart), "tstop": isot(s.tstop),
                "telapse_s": s.telapse,
            })
        })
        .collect();
    let doc = json!({
        "request": selection.request,
        "candidates": selection.candidates,
        "comments": selection.comments,
        "scws": scws,
    });
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| oda::Error::io("stdout", std::io::Error::other(e)))?;
    println!("{text}");
    Ok(())
}

/// Materialises the ScWs and prints their paths; false when any of them failed.
fn fetch(settings: &Settings, items: &[String]) -> oda::Result<bool> {
    let archive = Archive::open(settings)?;
    let (pairs, ids): (Vec<&String>, Vec<&String>) = items.iter().partition(|i| i.contains('='));
    let mut swids: Vec<ScwId> = ids.iter().map(|s| s.parse()).collect::<oda::Result<_>>()?;
    if !pairs.is_empty() {
        let params: Vec<String> = pairs.into_iter().cloned().collect();
        let selection = archive.select(&ScwSelection::from_pairs(parse_pairs(&params)?)?)?;
        for c in &selection.comments {
            eprintln!("# {c}");
        }
        swids.extend(selection.ids());
    }
    let bar = if swids.len() > 1 {
        let bar = ProgressBar::new(swids.len() as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} ScWs {elapsed_precise} (eta {eta})")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let results: Vec<oda::Result<std::path::PathBuf>> = swids
        .par_iter()
        .map(|id| {
            let r = archive.events_path(id);
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let mut failed = 0;
    for (id, r) in swids.iter().zip(results) {
        match r {
            Ok(path) => println!("{}", path.display()),
            Err(e) => {
                failed += 1;
                eprintln!("oda: {id}: {e}");
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "oda: {failed} of {} Science Windows could not be fetched",
            swids.len()
        );
    }
    Ok(failed == 0)
}
