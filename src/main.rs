//! The `oda` command line.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::json;

use oda::archive::{Archive, ScwId, ScwSelection, Selection};
use oda::config::{Executor, Settings, SlurmSettings, parse_seed};
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
    /// JSON file of extra sources for the simulated sky (unknown to the reference catalog);
    /// overrides ODA_SIM_SKY.
    #[arg(long, global = true, value_name = "FILE")]
    sky: Option<std::path::PathBuf>,
    /// The simulated instrument off its calibration, e.g. `area=1.05,gain=1.01,
    /// background_ramp=0.1,mask_shift_mm=0.5:0`; overrides ODA_SIM_PERTURB.
    #[arg(long, global = true, value_name = "SPEC")]
    perturb: Option<String>,
    /// Where per-Science-Window units run: local (this machine's cores) or slurm (job arrays
    /// on a cluster sharing the data directory); overrides ODA_EXECUTOR.
    #[arg(long, global = true, value_name = "local|slurm")]
    executor: Option<String>,
    /// Slurm partition of the arrays; overrides ODA_SLURM_PARTITION.
    #[arg(long, global = true, value_name = "NAME")]
    slurm_partition: Option<String>,
    /// Time limit of each array task (Slurm's formats, e.g. 1:00:00); overrides ODA_SLURM_TIME.
    #[arg(long, global = true, value_name = "TIME")]
    slurm_time: Option<String>,
    /// Science Windows computed by each array task (default 10); overrides
    /// ODA_SLURM_UNITS_PER_TASK.
    #[arg(long, global = true, value_name = "N")]
    slurm_units_per_task: Option<usize>,
    /// CPUs of each array task (default 1); overrides ODA_SLURM_CPUS_PER_TASK.
    #[arg(long, global = true, value_name = "N")]
    slurm_cpus_per_task: Option<usize>,
    /// Further sbatch options, e.g. "--account=integral --qos=short"; overrides
    /// ODA_SLURM_SBATCH_ARGS.
    #[arg(
        long,
        global = true,
        value_name = "OPTIONS",
        allow_hyphen_values = true
    )]
    slurm_sbatch_args: Option<String>,
    #[command(subcommand)]
    command: Command,
}

// The command is parsed once per process: the size of its largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Science Windows: list a selection, or materialise event files.
    Scw {
        #[command(subcommand)]
        command: ScwCommand,
    },
    /// Run an ODA request (product=isgri_image|isgri_spectrum|isgri_lc|spectral_fit
    /// src_name=... T1=... T2=... E1_keV=... ...; or product=spi_acs_lc T1=... T2=...
    /// time_bin=...), write its products and print a summary. Units already in the cache are
    /// reused.
    GetProduct {
        /// KEY=VALUE parameters with ODA's names.
        #[arg(value_name = "KEY=VALUE", required = true)]
        params: Vec<String>,
        /// Output directory (default: <product>-<identity prefix>).
        #[arg(long, value_name = "DIR")]
        out: Option<std::path::PathBuf>,
        /// Print the result as one JSON document instead of the summary.
        #[arg(long)]
        json: bool,
    },
    /// The product cache: what it holds, clean-up, verification.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Publish an analysis (notebooks and products) with a DOI on Zenodo or an InvenioRDM
    /// server: reserve → get-product --out DIR/products → bundle → upload --publish.
    Publish {
        #[command(subcommand)]
        command: PublishCommand,
    },
    #[cfg(feature = "server")]
    /// Run the ODA service: the routes of the `oda_api` client, the web page, jobs on the shared
    /// cache. Prints "oda serve: listening on URL" once it accepts connections.
    Serve {
        /// Address to listen on (put a reverse proxy in front to serve the world).
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port; 0 picks a free one.
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// Jobs run at once.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// File holding the HS256 token secret (else ODA_SECRET, else DATA/server/secret,
        /// made on first start).
        #[arg(long, value_name = "FILE")]
        secret_file: Option<std::path::PathBuf>,
        /// PEM RSA public key whose RS256 tokens are accepted; repeatable.
        #[arg(long = "public-key", value_name = "PEM")]
        public_keys: Vec<std::path::PathBuf>,
        /// The URL users reach the site at (behind a reverse proxy), for the API code shown.
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// Largest request body in bytes (long catalogs are posted).
        #[arg(long, default_value_t = 4 << 20)]
        max_body: usize,
        /// Jobs that may wait at once; further new requests get 503 with Retry-After.
        #[arg(long, default_value_t = 200)]
        max_queued: usize,
    },
    #[cfg(feature = "server")]
    /// Tokens for a site's users.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// One array task of the Slurm executor (Slurm runs it; see docs/cluster.md): computes the
    /// task's units of a request into the shared cache and reports them beside the job file.
    Worker {
        /// The job file the coordinator wrote (DATA/cache/slurm/…/job.json).
        #[arg(long, value_name = "FILE")]
        job: std::path::PathBuf,
        /// The array index.
        #[arg(long, value_name = "N")]
        task: usize,
        /// 1, or 2 for the retry of a failed task.
        #[arg(long, default_value_t = 1)]
        attempt: u32,
    },
    /// The provenance graph of a cache entry (identity from get-product or the cache).
    Provenance {
        /// The entry's identity (64 hex digits).
        id: String,
        /// Print Graphviz DOT instead of text.
        #[arg(long)]
        dot: bool,
    },
}

/// Where to publish and how (the token comes from ODA_PUBLISH_TOKEN or
/// ~/.config/oda/publish-tokens.toml, mode 600).
#[derive(clap::Args, Debug)]
struct ServerArgs {
    /// zenodo, zenodo-sandbox (the default for a new publication) or a server's base URL.
    #[arg(long, value_name = "TARGET")]
    target: Option<String>,
    /// rdm (InvenioRDM records API, the default) or legacy (Zenodo's deposit API).
    #[arg(long, value_name = "API")]
    api: Option<String>,
}

/// Metadata of the record (over DIR/metadata.toml).
#[derive(clap::Args, Debug)]
struct MetadataArgs {
    /// Title of the record.
    #[arg(long)]
    title: Option<String>,
    /// "Family, Given[, ORCID[, affiliation]]"; repeat for several creators, in order.
    #[arg(long = "creator", value_name = "CREATOR")]
    creators: Vec<String>,
    /// Description (plain text; blank lines separate paragraphs).
    #[arg(long)]
    description: Option<String>,
    /// A keyword; repeat for several.
    #[arg(long = "keyword", value_name = "KEYWORD")]
    keywords: Vec<String>,
    /// The DOI of the paper the record supplements (isSupplementTo); repeatable.
    #[arg(long = "related-doi", value_name = "DOI")]
    related_dois: Vec<String>,
    /// Licence id (default cc-by-4.0).
    #[arg(long)]
    license: Option<String>,
    /// Version of the record.
    #[arg(long = "record-version", value_name = "VERSION")]
    version: Option<String>,
    /// A community to submit the record to; repeatable.
    #[arg(long = "community", value_name = "ID")]
    communities: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum PublishCommand {
    /// Create the draft record and reserve its DOI; writes DIR/publication.json. Run again to
    /// reuse it (changed metadata is sent).
    Reserve {
        /// The publication directory.
        dir: std::path::PathBuf,
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        metadata: MetadataArgs,
    },
    /// Assemble the record in DIR/bundle: notebooks, products, README, CITATION.cff,
    /// RO-Crate, manifest, and one zip to re-run on Binder.
    Bundle {
        /// The publication directory.
        dir: std::path::PathBuf,
        /// An executed notebook to include (copied into DIR/notebooks); repeatable.
        #[arg(long = "notebook", value_name = "FILE")]
        notebooks: Vec<std::path::PathBuf>,
        /// The oda source tree for the zip (default: the one this oda was built from).
        #[arg(long, value_name = "DIR")]
        source: Option<std::path::PathBuf>,
    },
    /// Upload the bundle (resumable; files already on the server with the right md5 are
    /// skipped); with --publish, publish it.
    Upload {
        /// The publication directory.
        dir: std::path::PathBuf,
        /// Publish after uploading (registers the DOI: permanent).
        #[arg(long)]
        publish: bool,
        /// Confirm publishing on a production server (zenodo.org mints permanent DOIs).
        #[arg(long)]
        confirm_production: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Start the next version of a published record (a new DOI; make the products again).
    NewVersion {
        /// The publication directory.
        dir: std::path::PathBuf,
        #[command(flatten)]
        metadata: MetadataArgs,
    },
    /// Check a publication, a bundle or a downloaded record: every file against the manifest,
    /// then every product re-run from its request on the recorded archive. Exit 0 only when
    /// everything is identical.
    Verify {
        /// The directory.
        dir: std::path::PathBuf,
        /// Check checksums only, without re-running the products.
        #[arg(long)]
        no_rerun: bool,
        /// Also re-run the notebooks (needs the "Rust (oda)" Jupyter kernel).
        #[arg(long)]
        notebooks: bool,
    },
    /// Show a publication: DOI, state, record, files.
    Show {
        /// The publication directory.
        dir: std::path::PathBuf,
    },
}

#[cfg(feature = "server")]
#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Print a JWT (HS256, signed with the site's secret: ODA_SECRET, --secret-file, or
    /// DATA/server/secret) with ODA's claims; the token alone on stdout.
    Issue {
        /// The user (ODA uses the e-mail address).
        #[arg(long)]
        sub: String,
        /// E-mail address (default: SUB when it looks like one).
        #[arg(long)]
        email: Option<String>,
        /// The user's name.
        #[arg(long)]
        name: Option<String>,
        /// Comma-separated roles (unige-hpc-full, unige-hpc-extreme, job manager, ...).
        #[arg(long, default_value = "")]
        roles: String,
        /// Validity: 90s, 30m, 12h, 7d, 2w.
        #[arg(long, default_value = "7d")]
        expires: String,
        /// Expiry as Unix seconds instead of --expires (e.g. a past time, to test refusals).
        #[arg(long, value_name = "UNIX_SECONDS")]
        expires_at: Option<i64>,
        /// File holding the secret.
        #[arg(long, value_name = "FILE")]
        secret_file: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum CacheCommand {
    /// Entries and sizes, per class and per unit.
    Stats {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Trim to the size limit (ODA_CACHE_LIMIT) and remove left-overs of crashed runs.
    Gc,
    /// Check every entry against its checksums; damaged entries are removed.
    Verify,
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
        // A closed pipe (`oda scw list | head`) ends the output quietly, as Unix tools do.
        Err(oda::Error::Io { path, source })
            if path.as_os_str() == "stdout" && source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
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
    if let Some(f) = &cli.sky {
        s = s.with_sky_file(f)?;
    }
    if let Some(spec) = &cli.perturb {
        s = s.with_perturbation(oda::config::parse_perturbation("--perturb", spec)?);
    }
    if let Some(e) = &cli.executor {
        s = s.with_executor(match e.parse::<Executor>()? {
            Executor::Slurm(_) => Executor::Slurm(SlurmSettings::from_env()?),
            local => local,
        });
    }
    let slurm_flags = [
        ("--slurm-partition", cli.slurm_partition.is_some()),
        ("--slurm-time", cli.slurm_time.is_some()),
        ("--slurm-units-per-task", cli.slurm_units_per_task.is_some()),
        ("--slurm-cpus-per-task", cli.slurm_cpus_per_task.is_some()),
        ("--slurm-sbatch-args", cli.slurm_sbatch_args.is_some()),
    ];
    match &mut s.executor {
        Executor::Slurm(slurm) => {
            let mut t = slurm.clone();
            if let Some(p) = &cli.slurm_partition {
                t = t.with_partition(p);
            }
            if let Some(l) = &cli.slurm_time {
                t = t.with_time_limit(l)?;
            }
            if let Some(n) = cli.slurm_units_per_task {
                t = t.with_units_per_task(n)?;
            }
            if let Some(n) = cli.slurm_cpus_per_task {
                t = t.with_cpus_per_task(n)?;
            }
            if let Some(a) = &cli.slurm_sbatch_args {
                t = t.with_sbatch_args(a);
            }
            *slurm = t;
        }
        _ => {
            if let Some((flag, _)) = slurm_flags.iter().find(|(_, given)| *given) {
                return Err(oda::Error::invalid(
                    *flag,
                    "(given)",
                    "only with --executor slurm (or ODA_EXECUTOR=slurm)",
                ));
            }
        }
    }
    Ok(s)
}

/// With the Slurm executor, SIGINT and SIGTERM cancel the jobs this process submitted before
/// it exits: no task keeps computing for nobody. (`oda serve` cancels them at its shutdown.)
fn cancel_jobs_on_interrupt() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let ids = oda::workflow::cancel_jobs_for_shutdown();
            if !ids.is_empty() {
                eprintln!(
                    "oda: interrupted; cancelled Slurm job(s) {}",
                    ids.join(", ")
                );
            }
            std::process::exit(128 + sig);
        }
    });
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
    #[cfg(feature = "server")]
    let serving = matches!(cli.command, Command::Serve { .. });
    #[cfg(not(feature = "server"))]
    let serving = false;
    if matches!(settings.executor, Executor::Slurm(_)) && !serving {
        cancel_jobs_on_interrupt();
    }
    match &cli.command {
        Command::Worker { job, task, attempt } => worker(job, *task, *attempt),
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
        Command::GetProduct { params, out, json } => get_product(settings, params, out, *json),
        Command::Publish { command } => publish(settings, command),
        #[cfg(feature = "server")]
        Command::Serve {
            host,
            port,
            workers,
            secret_file,
            public_keys,
            public_url,
            max_body,
            max_queued,
        } => {
            let options = oda::server::ServeOptions {
                host: host.clone(),
                port: *port,
                workers: *workers,
                secret_file: secret_file.clone(),
                public_keys: public_keys.clone(),
                public_url: public_url.clone(),
                max_body_bytes: *max_body,
                max_queued: *max_queued,
            };
            oda::server::serve(settings, options, |addr| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "oda serve: listening on http://{addr}");
                let _ = out.flush();
            })?;
            Ok(true)
        }
        #[cfg(feature = "server")]
        Command::Token {
            command:
                TokenCommand::Issue {
                    sub,
                    email,
                    name,
                    roles,
                    expires,
                    expires_at,
                    secret_file,
                },
        } => {
            let (secret, _) =
                oda::server::load_secret(&settings.data_dir, secret_file.as_deref(), false)?;
            let now = oda::time::unix_now();
            let exp = match expires_at {
                Some(t) => *t,
                None => now
                    .checked_add(oda::server::parse_duration("--expires", expires)?)
                    .ok_or_else(|| {
                        oda::Error::invalid("--expires", expires, "a duration below 10^11 years")
                    })?,
            };
            let claims = oda::server::Claims {
                sub: sub.clone(),
                email: email.clone().unwrap_or_else(|| {
                    if sub.contains('@') {
                        sub.clone()
                    } else {
                        String::new()
                    }
                }),
                name: name.clone().unwrap_or_default(),
                roles: oda::server::parse_roles(roles),
                exp,
                iat: Some(now),
            };
            let token = oda::server::Authority::hs256(&secret)?.issue(&claims)?;
            println!("{token}");
            Ok(true)
        }
        Command::Cache { command } => {
            let cache = oda::workflow::Cache::open(settings.cache_dir(), settings.cache_limit)?;
            match command {
                CacheCommand::Stats { json } => {
                    let stats = cache.stats();
                    if *json {
                        println!("{}", to_json(&stats)?);
                    } else {
                        println!(
                            "cache {} (limit {})",
                            stats.root.display(),
                            size(stats.limit)
                        );
                        println!("  {:<24} {:>8} {:>12}", "", "entries", "size");
                        println!(
                            "  {:<24} {:>8} {:>12}",
                            "total",
                            stats.total.entries,
                            size(stats.total.bytes)
                        );
                        for (class, u) in &stats.by_class {
                            let name = format!("{class:?}");
                            println!("  {:<24} {:>8} {:>12}", name, u.entries, size(u.bytes));
                        }
                        for (unit, u) in &stats.by_unit {
                            println!("    {:<22} {:>8} {:>12}", unit, u.entries, size(u.bytes));
                        }
                    }
                    Ok(true)
                }
                CacheCommand::Gc => {
                    let r = cache.gc()?;
                    println!(
                        "evicted {} entries ({}), removed {} left-overs; {} in the cache",
                        r.evicted,
                        size(r.freed),
                        r.leftovers,
                        size(r.remaining)
                    );
                    Ok(true)
                }
                CacheCommand::Verify => {
                    let r = cache.verify()?;
                    for (id, name, why) in &r.corrupt {
                        println!("damaged: {id} ({name}): {why} — removed");
                    }
                    println!(
                        "{} entries checked, {} damaged (removed; they will be recomputed)",
                        r.checked,
                        r.corrupt.len()
                    );
                    Ok(r.corrupt.is_empty())
                }
            }
        }
        Command::Provenance { id, dot } => {
            let cache = oda::workflow::Cache::open(settings.cache_dir(), settings.cache_limit)?;
            let graph = cache.provenance(&id.parse()?)?;
            if *dot {
                print!("{}", graph.to_dot());
            } else {
                print!("{graph}");
            }
            Ok(true)
        }
    }
}

fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    } else if b >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> oda::Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| oda::Error::io("stdout", std::io::Error::other(e)))
}

/// Runs a request, writes its products, prints the summary (or JSON).
fn get_product(
    settings: Settings,
    params: &[String],
    out: &Option<std::path::PathBuf>,
    json: bool,
) -> oda::Result<bool> {
    let request = oda::query::Request::from_pairs(parse_pairs(params)?)?;
    for w in &request.warnings {
        eprintln!("oda: warning: {w}");
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:24} {bar:40} {pos}/{len} {elapsed_precise}")
    {
        bar.set_style(style);
    }
    let progress_bar = bar.clone();
    let session = oda::query::Session::new(settings)?.with_progress(std::sync::Arc::new(
        move |p: &oda::workflow::Progress| {
            progress_bar.set_message(p.stage.clone());
            progress_bar.set_length(p.total as u64);
            progress_bar.set_position(p.done as u64);
        },
    ));
    let result = session.get_product(&request);
    bar.finish_and_clear();
    let result = result?;
    let dir = out
        .clone()
        .unwrap_or_else(|| oda::query::default_out_dir(&result));
    let files = result.write(&dir)?;
    if json {
        let mut doc = result.to_json(&files);
        doc["out_dir"] = serde_json::Value::String(dir.display().to_string());
        println!("{}", to_json(&doc)?);
    } else {
        print!("{result}");
        println!("products in {}:", dir.display());
        for f in &files {
            println!("  {:<12} {}", f.kind, f.path);
        }
    }
    Ok(true)
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

impl MetadataArgs {
    fn to_metadata(&self) -> oda::Result<oda::publish::Metadata> {
        use oda::publish::{Creator, Metadata};
        let mut m = Metadata {
            title: self.title.clone().unwrap_or_default(),
            description: self.description.clone().unwrap_or_default(),
            keywords: self.keywords.clone(),
            version: self.version.clone(),
            communities: self.communities.clone(),
            ..Metadata::default()
        };
        if let Some(l) = &self.license {
            m.license = l.clone();
        }
        for c in &self.creators {
            m.creators.push(Creator::parse(c)?);
        }
        for d in &self.related_dois {
            m.add_related_doi(d)?;
        }
        Ok(m)
    }
}

impl ServerArgs {
    fn options(&self) -> oda::Result<oda::publish::PublishOptions> {
        use oda::publish::{Api, PublishOptions, Target};
        Ok(PublishOptions {
            target: self.target.as_deref().map(Target::parse).transpose()?,
            api: self.api.as_deref().map(Api::parse).transpose()?,
            ..PublishOptions::default()
        })
    }
}

/// What to print after a step that changed the record: DOI, record, badges.
fn print_publication(p: &oda::publish::Publication) {
    let j = p.journal();
    println!("doi:        {}", p.doi());
    println!(
        "state:      {} (record {} on {})",
        j.state.name(),
        p.record_id(),
        j.target
    );
    if let Some(url) = &j.record_url {
        println!("record:     {url}");
    }
    println!("cite as:    {}", j.citation);
    println!("DOI badge:  {}", p.doi_badge_markdown());
    if j.state == oda::publish::State::Published {
        println!(
            "Binder:     [![Binder](https://mybinder.org/badge_logo.svg)]({})",
            oda::publish::binder_url(p.doi(), None)
        );
    }
}

fn publish(settings: Settings, command: &PublishCommand) -> oda::Result<bool> {
    use oda::publish::{BundleOptions, PublishOptions, VerifyOptions};
    match command {
        PublishCommand::Reserve {
            dir,
            server,
            metadata,
        } => {
            let options = PublishOptions {
                metadata: metadata.to_metadata()?,
                ..server.options()?
            };
            let p = oda::publish::reserve(dir, options)?;
            print_publication(&p);
            println!(
                "next:       oda get-product ... --out {}/products/NAME  (products carry the DOI), then oda publish bundle {}",
                dir.display(),
                dir.display()
            );
            Ok(true)
        }
        PublishCommand::Bundle {
            dir,
            notebooks,
            source,
        } => {
            let report = oda::publish::bundle(
                dir,
                &BundleOptions {
                    notebooks: notebooks.clone(),
                    source_dir: source.clone(),
                },
            )?;
            print!("{report}");
            Ok(true)
        }
        PublishCommand::Upload {
            dir,
            publish,
            confirm_production,
            server,
        } => {
            let options = PublishOptions {
                confirm_production: *confirm_production,
                ..server.options()?
            };
            let p = oda::publish::upload(dir, options, *publish)?;
            print_publication(&p);
            Ok(true)
        }
        PublishCommand::NewVersion { dir, metadata } => {
            let options = PublishOptions {
                metadata: metadata.to_metadata()?,
                ..PublishOptions::default()
            };
            let p = oda::publish::new_version(dir, options)?;
            print_publication(&p);
            println!(
                "next:       make the products again into {}/products (they must carry the new DOI), bundle, upload --publish",
                dir.display()
            );
            Ok(true)
        }
        PublishCommand::Verify {
            dir,
            no_rerun,
            notebooks,
        } => {
            let report = oda::publish::verify(
                dir,
                &VerifyOptions {
                    settings,
                    rerun: !no_rerun,
                    notebooks: *notebooks,
                },
            )?;
            println!("{report}");
            Ok(report.all_identical())
        }
        PublishCommand::Show { dir } => {
            let p = oda::publish::Publication::open(dir)?;
            print_publication(&p);
            for f in &p.journal().files {
                println!(
                    "  {} {} bytes md5:{}{}",
                    f.key,
                    f.size,
                    f.md5,
                    if f.uploaded { "" } else { " (not uploaded)" }
                );
            }
            Ok(true)
        }
    }
}

/// `oda worker`: one array task; fails (for Slurm's record and the retry) when a unit failed.
fn worker(job: &std::path::Path, task: usize, attempt: u32) -> oda::Result<bool> {
    // The task's CPUs, not the node's: several tasks share a node.
    if std::env::var_os("RAYON_NUM_THREADS").is_none()
        && let Some(n) = std::env::var("SLURM_CPUS_PER_TASK")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
    {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    let t0 = std::time::Instant::now();
    println!(
        "oda worker: task {task} (attempt {attempt}) of {} on {}",
        job.display(),
        std::env::var("SLURMD_NODENAME").unwrap_or_else(|_| "this host".into())
    );
    let report = oda::query::run_worker_task(job, task, attempt)?;
    println!(
        "oda worker: computed {} unit(s), {} failed, in {:.1} s",
        report.computed.len(),
        report.failed.len(),
        t0.elapsed().as_secs_f64()
    );
    for w in &report.warnings {
        println!("warning: {w}");
    }
    for f in &report.failed {
        eprintln!("oda worker: failed: {f}");
    }
    Ok(report.failed.is_empty())
}
