//! The `openclaw` binary: parses arguments, then hands each command to one function.
//! Exit codes are decided here and nowhere else.

mod agent_cmd;
mod agents_cmd;
mod approvals_cmd;
mod channels_cmd;
mod config_cmd;
mod cron_cmd;
mod dashboard;
mod deep;
mod devices_cmd;
mod doctor;
mod error;
mod logs;
mod models_cmd;
mod node_host;
mod nodes_cmd;
mod onboard;
mod probe;
mod rpc;
mod service_cmd;
mod sessions_cmd;
mod status;
mod table;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use openclaw_config::{PathOptions, Paths, RunOverrides};
use openclaw_gateway::StartError;
use openclaw_service::control::Action;

#[derive(Parser, Debug)]
#[command(name = "openclaw", version, about = "OpenClaw gateway (Rust drop-in)")]
struct Cli {
    /// Use an isolated profile: state in ~/.openclaw-<NAME>.
    #[arg(long, global = true, value_name = "NAME")]
    profile: Option<String>,
    /// Dev profile: state in ~/.openclaw-dev, port 19001; `gateway` creates config, token and
    /// workspace when missing.
    #[arg(long, global = true)]
    dev: bool,
    /// Disable colours (accepted for compatibility; output is plain).
    #[arg(long, global = true)]
    no_color: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway (default) or talk to a running one.
    Gateway(GatewayCmd),
    /// Run one agent turn through the gateway and print the reply.
    Agent(agent_cmd::AgentArgs),
    /// Send messages through a channel.
    Message(channels_cmd::MessageCmd),
    /// Channel status, logout, and WhatsApp login.
    Channels(channels_cmd::ChannelsCmd),
    /// DM pairing requests: list and approve codes.
    Pairing(channels_cmd::PairingCmd),
    /// Ask the running gateway for its health.
    Health(HealthArgs),
    /// Show (and follow) the gateway's log through the gateway.
    Logs(LogsArgs),
    /// Read or edit the config file.
    Config(ConfigCmd),
    /// Audit config, state, port, service and auth; migrate clawdbot-era state.
    Doctor(doctor::DoctorArgs),
    /// Summary: config, service, gateway reachability (and other gateways with --deep).
    Status(status::StatusArgs),
    /// Device pairing and device tokens.
    Devices(devices_cmd::DevicesCmd),
    /// Exec approvals: policy (local, gateway or node) and pending requests.
    #[command(alias = "exec-approvals")]
    Approvals(approvals_cmd::ApprovalsCmd),
    /// Nodes: pairing, status, describe and invoke.
    Nodes(nodes_cmd::NodesCmd),
    /// Headless node host: run this machine as a node of a gateway, or show its status.
    Node(node_host::NodeCmd),
    /// Print the Control UI URL with the token (and open it in a browser unless --no-open).
    Dashboard(dashboard::DashboardArgs),
    /// List the stored sessions (newest first).
    Sessions(sessions_cmd::SessionsArgs),
    /// The configured agents.
    Agents(agents_cmd::AgentsCmd),
    /// Models: list, status, set the default.
    Models(models_cmd::ModelsCmd),
    /// Create the config and agent workspace (with onboarding flags: run onboarding).
    Setup(onboard::SetupArgs),
    /// Guided first run: model provider and key (tested live), gateway auth, channels, service.
    Onboard(onboard::OnboardArgs),
    /// Re-run one part of onboarding (--section model|gateway|channels).
    Configure(onboard::ConfigureArgs),
    /// Scheduled jobs and reminders: status, list, add, edit, rm, run, runs.
    Cron(cron_cmd::CronCmd),
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Keep printing new lines (reconnects when the gateway restarts).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Lines to show first.
    #[arg(long, default_value_t = 200)]
    pub limit: u32,
    /// Poll interval in milliseconds when following.
    #[arg(long, default_value_t = 500)]
    pub interval: u64,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Args, Debug)]
pub struct ConfigCmd {
    #[command(subcommand)]
    pub sub: ConfigSub,
}

#[derive(Subcommand, Debug)]
pub enum ConfigSub {
    /// Print the value at a dotted path (e.g. gateway.port).
    Get {
        path: String,
        /// Print JSON even for strings.
        #[arg(long)]
        json: bool,
    },
    /// Set a dotted path; the value is parsed as JSON5, else taken as a string.
    Set { path: String, value: String },
    /// Remove a dotted path.
    Unset { path: String },
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
struct GatewayCmd {
    #[command(subcommand)]
    sub: Option<GatewaySub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum GatewaySub {
    /// Run the gateway in the foreground.
    Run(RunArgs),
    /// Call one gateway method and print its result as JSON.
    Call(CallArgs),
    /// Ask the running gateway for its health.
    Health(ConnArgs),
    /// Service manager state and an RPC probe, side by side.
    Status(status::GatewayStatusArgs),
    /// Probe the local (and configured remote) gateway; exit 1 when none answers.
    Probe(probe::ProbeArgs),
    /// Install the per-user service (systemd user unit, launchd agent, scheduled task).
    Install(service_cmd::InstallArgs),
    /// Stop, disable and remove the per-user service.
    Uninstall(service_cmd::UninstallArgs),
    /// Start the installed service.
    Start(service_cmd::ControlArgs),
    /// Stop the installed service.
    Stop(service_cmd::ControlArgs),
    /// Restart the installed service (after checking the config).
    Restart(service_cmd::ControlArgs),
}

#[derive(Args, Debug, Default)]
struct RunArgs {
    /// Port to listen on (beats OPENCLAW_GATEWAY_PORT and gateway.port).
    #[arg(long)]
    port: Option<u16>,
    /// loopback | lan | auto | custom | tailnet
    #[arg(long)]
    bind: Option<String>,
    /// Shared token clients must present.
    #[arg(long)]
    token: Option<String>,
    /// Shared password clients must present.
    #[arg(long)]
    password: Option<String>,
    /// token | password | none
    #[arg(long)]
    auth: Option<String>,
    /// Start even without a config file or with gateway.mode other than local.
    #[arg(long)]
    allow_unconfigured: bool,
    /// Stop whatever listens on the port first (SIGTERM, then SIGKILL), then start.
    #[arg(long)]
    force: bool,
    /// Debug logging on stdout and in the log file.
    #[arg(long)]
    verbose: bool,
    /// Accepted for compatibility: WebSocket log style (auto|full|compact).
    #[arg(long, value_name = "STYLE")]
    ws_log: Option<String>,
    /// Accepted for compatibility (same as --ws-log compact).
    #[arg(long)]
    compact: bool,
}

/// How to reach a running gateway.
#[derive(Args, Debug, Clone, Default)]
pub struct ConnArgs {
    /// Gateway WebSocket URL (default ws://127.0.0.1:<port>). With --url, credentials come only
    /// from --token/--password.
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long)]
    pub token: Option<String>,
    #[arg(long)]
    pub password: Option<String>,
    /// Timeout in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub timeout: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct CallArgs {
    /// Method name, e.g. `health` or `status`.
    pub method: String,
    /// Params as a JSON object.
    #[arg(long)]
    pub params: Option<String>,
    /// Wait for the final response of two-phase methods (`agent`).
    #[arg(long)]
    pub expect_final: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// How a command ended; only `main` turns it into an exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Did what was asked (status commands: status could be determined). Exit 0.
    Done,
    /// Reported a problem. Exit 1.
    Failed,
    /// Arguments that parse but make no sense (bad `--params` JSON, unknown channel, bad
    /// profile name). Exit 2, as for a clap usage error.
    Usage,
    /// The gateway refused to start because of its config or paths. Exit 78 (`EX_CONFIG`),
    /// so a supervisor stops restarting it.
    Config,
}

impl Outcome {
    fn exit_code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::Failed => 1,
            Outcome::Usage => 2,
            Outcome::Config => 78,
        }
    }
}

#[derive(Args, Debug)]
pub struct HealthArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Accepted for compatibility.
    #[arg(long)]
    pub verbose: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if let Some(flag) = reference_only_flag(&e) {
                eprintln!(
                    "error: {flag} is an onboarding flag of the reference CLI that this gateway does not support; see `openclaw onboard --help` for the supported ones"
                );
                return ExitCode::from(Outcome::Usage.exit_code());
            }
            e.exit()
        }
    };
    ExitCode::from(run(cli).exit_code())
}

/// The reference onboarding flag behind an "unexpected argument" error, if it is one.
fn reference_only_flag(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let name = arg.split('=').next().unwrap_or(arg);
    // Only for the onboarding commands: elsewhere clap's own message is the right one.
    let mut args = std::env::args().skip(1);
    let mut command = None;
    while let Some(a) = args.next() {
        if a == "--profile" {
            args.next();
        } else if !a.starts_with('-') {
            command = Some(a);
            break;
        }
    }
    let onboarding = matches!(command.as_deref(), Some("onboard" | "setup"));
    (onboarding && onboard::REFERENCE_ONLY_FLAGS.contains(&name)).then(|| name.to_string())
}

fn run(cli: Cli) -> Outcome {
    let path_opts = PathOptions {
        profile: cli.profile.clone(),
        dev: cli.dev,
    };
    let paths = match Paths::resolve(&path_opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::Usage;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return Outcome::Failed;
        }
    };
    let dev = cli.dev;
    let outcome = match cli.command {
        Command::Gateway(g) => match g.sub {
            None => run_gateway(&rt, paths, g.run, dev),
            Some(GatewaySub::Run(args)) => run_gateway(&rt, paths, args, dev),
            Some(GatewaySub::Call(args)) => rt.block_on(rpc::call(&paths, dev, args)),
            Some(GatewaySub::Health(conn)) => rt.block_on(rpc::health(&paths, dev, conn)),
            Some(GatewaySub::Status(args)) => {
                rt.block_on(status::gateway_status(&paths, dev, args))
            }
            Some(GatewaySub::Probe(args)) => rt.block_on(probe::probe_cmd(&paths, dev, args)),
            Some(GatewaySub::Install(args)) => service_cmd::install(&paths, dev, args),
            Some(GatewaySub::Uninstall(args)) => service_cmd::uninstall(&paths, dev, args),
            Some(GatewaySub::Start(args)) => {
                service_cmd::control_cmd(&paths, dev, Action::Start, args)
            }
            Some(GatewaySub::Stop(args)) => {
                service_cmd::control_cmd(&paths, dev, Action::Stop, args)
            }
            Some(GatewaySub::Restart(args)) => {
                service_cmd::control_cmd(&paths, dev, Action::Restart, args)
            }
        },
        Command::Health(h) => rt.block_on(rpc::health(&paths, dev, h.conn)),
        Command::Agent(a) => rt.block_on(agent_cmd::run(&paths, dev, a)),
        Command::Message(m) => rt.block_on(channels_cmd::message(&paths, dev, m)),
        Command::Channels(c) => rt.block_on(channels_cmd::channels(&paths, dev, c)),
        Command::Pairing(c) => rt.block_on(channels_cmd::pairing(&paths, dev, c)),
        Command::Logs(l) => rt.block_on(logs::logs(&paths, dev, l)),
        Command::Config(c) => config_cmd::run(&paths, c.sub),
        Command::Doctor(args) => doctor::run(&paths, dev, args),
        Command::Status(args) => rt.block_on(status::status(&paths, dev, args)),
        Command::Devices(c) => rt.block_on(devices_cmd::run(&paths, dev, c)),
        Command::Cron(c) => rt.block_on(cron_cmd::run(&paths, dev, c)),
        Command::Approvals(c) => rt.block_on(approvals_cmd::run(&paths, dev, c)),
        Command::Nodes(c) => rt.block_on(nodes_cmd::run(&paths, dev, c)),
        Command::Node(n) => rt.block_on(node_host::node(&paths, n)),
        Command::Dashboard(d) => dashboard::run(&paths, dev, d),
        Command::Sessions(a) => rt.block_on(sessions_cmd::run(&paths, dev, a)),
        Command::Agents(c) => rt.block_on(agents_cmd::run(&paths, dev, c)),
        Command::Models(c) => rt.block_on(models_cmd::run(&paths, dev, c)),
        Command::Setup(a) => onboard::setup(&rt, &paths, dev, a),
        Command::Onboard(a) => onboard::onboard(&rt, &paths, dev, a),
        Command::Configure(a) => onboard::configure(&rt, &paths, dev, a),
    };
    // Do not wait for lingering tasks (open sockets, timers) on the way out.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    outcome
}

fn run_gateway(rt: &tokio::runtime::Runtime, paths: Paths, a: RunArgs, dev: bool) -> Outcome {
    let opts = openclaw_gateway::RunOptions {
        paths: Some(paths),
        overrides: RunOverrides {
            port: a.port,
            bind: a.bind,
            token: a.token,
            password: a.password,
            auth: a.auth,
            allow_unconfigured: a.allow_unconfigured,
            dev,
            runtime_token: None,
        },
        verbose: a.verbose,
        force: a.force,
    };
    match rt.block_on(openclaw_gateway::run(opts)) {
        Ok(()) => Outcome::Done,
        Err(e) => {
            eprintln!("{e}");
            match e {
                StartError::Paths(_) | StartError::Config(_) | StartError::Resolve(_) => {
                    Outcome::Config
                }
                _ => Outcome::Failed,
            }
        }
    }
}
