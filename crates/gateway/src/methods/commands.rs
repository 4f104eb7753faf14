//! `commands.list`: the chat commands this gateway answers, in the reference's shape
//! (`{commands:[{name, nativeName, textAliases, description, category, source, scope,
//! acceptsArgs, args?}]}`); the list itself lives with the commands in `chat_commands`.

use openclaw_protocol::connect::scopes;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::sessions::{CommandsListParams, names};
use serde_json::{Value, json};

use crate::agents::resolve_agent;
use crate::chat_commands::COMMANDS;
use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};

pub fn register(out: &mut Vec<MethodSpec>) {
    out.push(MethodSpec {
        name: names::COMMANDS_LIST,
        access: Access::Scope(scopes::READ),
        handler: commands_list,
    });
}

fn commands_list<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<CommandsListParams>(names::COMMANDS_LIST, params)?;
        // An unknown agent is an error, as everywhere else; every agent has the same commands.
        resolve_agent(&ctx.state, p.agent_id.as_deref())?;
        let include_args = p.include_args.unwrap_or(true);
        let commands: Vec<Value> = COMMANDS
            .iter()
            .map(|c| {
                let mut v = json!({
                    "name": c.name,
                    "nativeName": c.name,
                    "textAliases": c.aliases,
                    "description": c.description,
                    "category": c.category,
                    "source": "native",
                    "scope": "both",
                    "acceptsArgs": c.accepts_args,
                });
                if let (true, Some((name, description, choices))) = (include_args, c.arg) {
                    let mut arg =
                        json!({"name": name, "description": description, "type": "string"});
                    if !choices.is_empty() {
                        arg["choices"] = choices
                            .iter()
                            .map(|v| json!({"value": v, "label": v}))
                            .collect();
                    }
                    v["args"] = json!([arg]);
                }
                v
            })
            .collect();
        Ok(Reply::Json(json!({ "commands": commands })))
    })
}
