//! Carries out one parsed command against the library and renders its result as text or JSON.

use std::path::PathBuf;
use std::sync::OnceLock;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use fieldsync_proto::{
    Action, Asset, Contact, Customer, CustomerId, NewPartUsage, NewRepairRecord, NewWorkOrder,
    ScheduleWindow, Site, Timestamp, UserId, WorkOrderView,
};

use crate::cli::args::{AdminCommand, Cli, Command, CreateArgs, ListArgs};
use crate::cli::output;
use crate::error::{Error, Result};
use crate::query::ListQuery;
use crate::sync::SyncProgress;
use crate::Client;

/// The store directory: `--store`, `FIELDSYNC_STORE`, or the platform's data directory.
pub fn store_dir(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    dirs::data_dir()
        .map(|d| d.join("fieldsync"))
        .ok_or_else(|| {
            Error::InvalidInput(
                "no data directory is known on this system; give --store DIR or set FIELDSYNC_STORE"
                    .into(),
            )
        })
}

/// Opens the store and runs the command; returns what to print on standard output.
pub async fn run(cli: Cli) -> Result<String> {
    let client = Client::open(store_dir(cli.store)?)?;
    if let Command::Watch(a) = cli.command {
        return super::watch::watch(std::sync::Arc::new(client), a.for_seconds, cli.json).await;
    }
    execute(&client, cli.command, cli.json).await
}

pub(super) fn json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| Error::InvalidInput(format!("the result cannot be shown as JSON: {e}")))
}

/// Output of a command that changed a work order.
fn changed(what: &str, view: &WorkOrderView, as_json: bool) -> Result<String> {
    if as_json {
        json(view)
    } else {
        Ok(output::action_done(what, view))
    }
}

pub(crate) async fn execute(client: &Client, command: Command, as_json: bool) -> Result<String> {
    let act = |wo: &str, action: Action, what: &str| -> Result<String> {
        let id = client.find(wo)?;
        let view = client.act(id, action)?;
        changed(what, &view, as_json)
    };
    match command {
        Command::Login(a) => {
            let password = a.password.ok_or_else(|| {
                Error::InvalidInput(
                    "give --password, or set FIELDSYNC_PASSWORD to keep it out of the shell history"
                        .into(),
                )
            })?;
            let device = a
                .device_name
                .unwrap_or_else(|| "fieldsync command line".into());
            let ca_cert_pem = match &a.ca_cert {
                Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                    Error::InvalidInput(format!(
                        "cannot read the certificate authority {}: {e}",
                        path.display()
                    ))
                })?),
                None => None,
            };
            let options = crate::LoginOptions { ca_cert_pem };
            let session = client
                .login_with(&a.server, &a.user, &password, &device, &options)
                .await?;
            if as_json {
                json(&session)
            } else {
                Ok(format!(
                    "Logged in as {}. Run `fieldsync sync` to fetch your work orders.\n",
                    output::session_line(&session).trim_end()
                ))
            }
        }
        Command::Logout => {
            client.logout()?;
            let pending = client.pending_changes()?;
            if as_json {
                return json(
                    &serde_json::json!({ "logged_out": true, "pending_changes": pending }),
                );
            }
            let mut text = String::from("Logged out.");
            if pending > 0 {
                text.push_str(&format!(
                    " {pending} change(s) are not uploaded yet; log in again as the same user to sync them."
                ));
            }
            text.push('\n');
            Ok(text)
        }
        Command::Whoami => {
            let session = client.session()?.ok_or(Error::NotLoggedIn)?;
            if as_json {
                json(&session)
            } else {
                Ok(output::session_line(&session))
            }
        }
        Command::List(a) => {
            let query = list_query(client, &a)?;
            let rows = client.list(&query)?;
            if as_json {
                json(&rows)
            } else {
                Ok(output::work_order_table(&rows, Timestamp::now()))
            }
        }
        Command::Show(a) => {
            let view = client.get(client.find(&a.wo)?)?;
            if as_json {
                json(&view)
            } else {
                let me = client.session()?.map(|s| s.user_id);
                Ok(output::work_order_detail(&view, me, Timestamp::now()))
            }
        }
        Command::Accept(a) => act(&a.wo, Action::Accept, "accepted"),
        Command::Travel(a) => act(&a.wo, Action::StartTravel, "on the way"),
        Command::Arrive(a) => act(&a.wo, Action::Arrive, "arrived"),
        Command::Start(a) => act(&a.wo, Action::StartWork, "work started"),
        Command::Resume(a) => act(&a.wo, Action::Resume, "work resumed"),
        Command::Hold(a) => act(
            &a.wo,
            Action::Hold {
                reason: a.reason,
                note: a.note,
            },
            "on hold",
        ),
        Command::Part(a) => act(
            &a.wo,
            Action::RecordPartUsage(NewPartUsage {
                part_number: a.part,
                quantity: a.qty,
                source_location: a.from,
                serial: a.serial,
                refurbished: a.refurbished,
            }),
            "part recorded",
        ),
        Command::Repair(a) => act(
            &a.wo,
            Action::AddRepairRecord(NewRepairRecord {
                diagnosis: a.diagnosis,
                action_taken: a.action,
                measurements: a.measurements,
            }),
            "repair recorded",
        ),
        Command::Notes(a) => {
            let id = client.find(&a.wo)?;
            let text = match (a.text, a.append) {
                (Some(text), _) => text,
                (None, Some(extra)) => {
                    let current = client.get(id)?.notes;
                    if current.trim().is_empty() {
                        extra
                    } else {
                        format!("{}\n{extra}", current.trim_end_matches('\n'))
                    }
                }
                (None, None) => return Err(Error::InvalidInput("give --text or --append".into())),
            };
            let view = client.act(id, Action::EditNotes { text })?;
            changed("notes saved", &view, as_json)
        }
        Command::Complete(a) => act(
            &a.wo,
            Action::Complete {
                resolution: a.resolution,
                signed_by: a.signed_by,
                first_time_fix: !a.not_first_time_fix,
            },
            "completed",
        ),
        Command::Create(a) => {
            let new = new_work_order(client, *a).await?;
            let view = client.create_work_order(new)?;
            changed("created", &view, as_json)
        }
        Command::Classify(a) => {
            let id = client.find(&a.wo)?;
            let category = match a.category {
                Some(c) => c,
                None => client.get(id)?.category,
            };
            let view = client.act(
                id,
                Action::Classify {
                    category,
                    urgency: a.urgency,
                    impact: a.impact,
                    tier: a.tier,
                },
            )?;
            changed("classified", &view, as_json)
        }
        Command::Assign(a) => {
            let id = client.find(&a.wo)?;
            let technician = resolve_technician(client, &a.technician).await?;
            let view = client.act(id, Action::Assign { technician })?;
            changed(&format!("assigned to {}", a.technician), &view, as_json)
        }
        Command::Reschedule(a) => {
            let window = match (a.start, a.end) {
                (Some(start), Some(end)) => {
                    if end <= start {
                        return Err(Error::InvalidInput(format!(
                            "the visit must end after it starts (start {start}, end {end})"
                        )));
                    }
                    Some(ScheduleWindow { start, end })
                }
                _ => None,
            };
            act(&a.wo, Action::Reschedule { window }, "rescheduled")
        }
        Command::Cancel(a) => act(&a.wo, Action::Cancel { reason: a.reason }, "cancelled"),
        Command::Close(a) => act(&a.wo, Action::Close, "closed"),
        Command::Attach(a) => super::attach::attach(client, a, as_json),
        Command::Attachments(a) => super::attach::list(client, &a.wo, as_json),
        Command::Fetch(a) => super::attach::fetch(client, a, as_json).await,
        Command::Sync => sync(client, as_json).await,
        Command::Watch(_) => Err(Error::InvalidInput(
            "`watch` runs from the command line only".into(),
        )),
        Command::Status => status(client, as_json),
        Command::Rejected(a) => {
            let list = client.rejected_changes()?;
            let text = if as_json {
                json(&list)?
            } else {
                output::rejected_list(&list)
            };
            if a.clear {
                client.clear_rejected_changes()?;
            }
            Ok(text)
        }
        Command::Audit(a) => {
            let entries = client
                .audit(&crate::AuditFilter {
                    doc: a.doc,
                    user: a.user,
                    from: a.from,
                    to: a.to,
                    limit: Some(a.limit),
                })
                .await?;
            if as_json {
                json(&entries)
            } else {
                Ok(output::audit_table(&entries))
            }
        }
        Command::Admin(command) => admin(client, command, as_json).await,
    }
}

async fn admin(client: &Client, command: AdminCommand, as_json: bool) -> Result<String> {
    match command {
        AdminCommand::CreateUser(a) => {
            let id = client
                .admin_create_user(&fieldsync_proto::api::NewUser {
                    username: a.username.clone(),
                    password: a.password,
                    display_name: a.display_name,
                    role: a.role,
                    profile: fieldsync_proto::api::TechnicianProfile {
                        skills: a.skills,
                        region: a.region,
                        latitude: a.latitude,
                        longitude: a.longitude,
                        senior: a.senior,
                    },
                })
                .await?;
            if as_json {
                json(&serde_json::json!({ "id": id, "username": a.username }))
            } else {
                Ok(format!("Created {} ({}) as {id}.\n", a.username, a.role))
            }
        }
        AdminCommand::ResetPassword(a) => {
            client.admin_reset_password(&a.user, &a.password).await?;
            if as_json {
                json(&serde_json::json!({ "reset": a.user }))
            } else {
                Ok(format!(
                    "New password set for {}; their devices must log in again.\n",
                    a.user
                ))
            }
        }
        AdminCommand::Devices(a) => {
            let devices = client.admin_devices(a.user.as_deref()).await?;
            if as_json {
                json(&devices)
            } else {
                Ok(output::device_table(&devices))
            }
        }
        AdminCommand::Revoke(a) => {
            let device = client.admin_revoke_device(a.device).await?;
            if as_json {
                json(&device)
            } else {
                Ok(format!(
                    "Revoked '{}' of {} ({}); it will remove its local data on its next contact.\n",
                    device.name, device.username, device.id
                ))
            }
        }
    }
}

fn list_query(client: &Client, a: &ListArgs) -> Result<ListQuery> {
    let assignee = if a.mine {
        Some(client.session()?.ok_or(Error::NotLoggedIn)?.user_id)
    } else {
        None
    };
    Ok(ListQuery {
        statuses: (!a.status.is_empty()).then(|| a.status.clone()),
        open_only: !a.all && a.status.is_empty(),
        assignee,
        order: a.order.into(),
        limit: a.limit,
    })
}

/// A user id as given, or a username looked up in the server's technician list.
async fn resolve_technician(client: &Client, text: &str) -> Result<UserId> {
    if let Ok(id) = text.parse::<UserId>() {
        return Ok(id);
    }
    let list = match client.technicians().await {
        Ok(list) => list,
        Err(Error::Offline { reason, .. }) => {
            return Err(Error::InvalidInput(format!(
                "cannot look up technician '{text}' while the server is unreachable ({reason}); give their user id instead"
            )))
        }
        Err(e) => return Err(e),
    };
    list.iter()
        .find(|t| t.username.eq_ignore_ascii_case(text.trim()))
        .map(|t| t.id)
        .ok_or_else(|| {
            const SHOWN: usize = 8;
            let mut known: Vec<&str> = list
                .iter()
                .take(SHOWN)
                .map(|t| t.username.as_str())
                .collect();
            if list.len() > SHOWN {
                known.push("…");
            }
            Error::InvalidInput(format!(
                "no technician is called '{text}'; known technicians: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
}

async fn new_work_order(client: &Client, a: CreateArgs) -> Result<NewWorkOrder> {
    if let Some(source) = &a.from_json {
        let text = if source == "-" {
            std::io::read_to_string(std::io::stdin())
        } else {
            std::fs::read_to_string(source)
        }
        .map_err(|e| Error::InvalidInput(format!("cannot read {source}: {e}")))?;
        return serde_json::from_str(&text)
            .map_err(|e| Error::InvalidInput(format!("{source} is not a work order intake: {e}")));
    }
    let missing = |flag: &str| Error::InvalidInput(format!("--{flag} is required"));
    let assignee = match &a.technician {
        Some(t) => Some(resolve_technician(client, t).await?),
        None => None,
    };
    Ok(NewWorkOrder {
        channel: a.channel,
        customer: Customer {
            id: CustomerId::new(),
            name: a.customer.ok_or_else(|| missing("customer"))?,
            tier: a.tier,
            site: Site {
                address: a.address.ok_or_else(|| missing("address"))?,
                region: a.region.ok_or_else(|| missing("region"))?,
                latitude: a.latitude,
                longitude: a.longitude,
            },
            contact: Contact {
                name: a.contact_name.unwrap_or_default(),
                phone: a.contact_phone.unwrap_or_default(),
                email: a.contact_email.unwrap_or_default(),
            },
        },
        asset: Asset {
            model: a.asset_model.unwrap_or_default(),
            serial: a.asset_serial.unwrap_or_default(),
        },
        category: a.category.ok_or_else(|| missing("category"))?,
        urgency: a.urgency.ok_or_else(|| missing("urgency"))?,
        impact: a.impact.ok_or_else(|| missing("impact"))?,
        description: a.description.ok_or_else(|| missing("description"))?,
        schedule: None,
        assignee,
    })
}

async fn sync(client: &Client, as_json: bool) -> Result<String> {
    let bar: OnceLock<ProgressBar> = OnceLock::new();
    let on_progress = |p: SyncProgress| {
        // Only syncs that take more than one round are long enough for a bar.
        if as_json || (bar.get().is_none() && p.docs_total <= p.docs_done) {
            return;
        }
        let bar = bar.get_or_init(|| {
            let bar =
                ProgressBar::with_draw_target(Some(p.docs_total), ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{bar:30} {pos}/{len} work orders, {msg} received")
            {
                bar.set_style(style);
            }
            bar
        });
        bar.set_length(p.docs_total);
        bar.set_position(p.docs_done);
        bar.set_message(indicatif::HumanBytes(p.bytes_done).to_string());
    };
    let result = client.sync_with_progress(&on_progress).await;
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    let report = result?;
    if as_json {
        json(&report)
    } else {
        Ok(output::sync_summary(&report))
    }
}

fn status(client: &Client, as_json: bool) -> Result<String> {
    let session = client.session()?;
    let pending = client.pending_changes()?;
    let rejected = client.rejected_changes()?.len();
    let cursor = client.cursor()?;
    if as_json {
        return json(&serde_json::json!({
            "session": session,
            "pending_changes": pending,
            "rejected_changes": rejected,
            "cursor": cursor,
            "store": client.store_path(),
        }));
    }
    let mut out = String::new();
    match &session {
        Some(s) => out.push_str(&format!("Signed in  {}", output::session_line(s))),
        None => out.push_str("Signed in  nobody (run `fieldsync login`)\n"),
    }
    out.push_str(&format!("Pending    {pending} change(s) to upload\n"));
    if rejected > 0 {
        out.push_str(&format!(
            "Refused    {rejected} change(s); see `fieldsync rejected`\n"
        ));
    } else {
        out.push_str("Refused    none\n");
    }
    out.push_str(&format!("Cursor     {}\n", cursor.0));
    out.push_str(&format!("Store      {}\n", client.store_path().display()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use fieldsync_proto::wire::UpdatePayload;
    use fieldsync_proto::{Role, Status, WorkOrderSummary};

    use super::*;
    use crate::sync::apply::apply_response;
    use crate::sync::request;
    use crate::testing::{now, response, server_doc, session, sign_in};

    /// A client in a temporary store, signed in with `role`.
    fn client_as(role: Role) -> (tempfile::TempDir, Client, crate::Session) {
        let dir = tempfile::tempdir().expect("tmp");
        let client = Client::open(dir.path()).expect("open");
        let session = session(role);
        sign_in(client.store(), &session);
        (dir, client, session)
    }

    async fn run_line(client: &Client, line: &str) -> Result<String> {
        let cli = Cli::try_parse_from(line.split_whitespace()).expect("parses");
        execute(client, cli.command, cli.json).await
    }

    #[tokio::test]
    async fn a_dispatcher_creates_lists_and_shows_work() {
        let (_dir, client, _) = client_as(Role::Dispatcher);
        let text = run_line(
            &client,
            "fieldsync create --customer Harbor --address Quay --region north --category hardware \
             --urgency emergency --impact one_site --description Cold --tier vip",
        )
        .await
        .expect("create");
        assert!(text.contains(": created; now new (P1)"), "{text}");

        let table = run_line(&client, "fieldsync list").await.expect("list");
        assert_eq!(table.lines().count(), 2, "{table}");
        assert!(table.contains("Harbor"), "{table}");

        let listed: Vec<WorkOrderSummary> = serde_json::from_str(
            &run_line(&client, "fieldsync list --json")
                .await
                .expect("json"),
        )
        .expect("summaries");
        let number = listed[0].number.clone();
        let detail = run_line(&client, &format!("fieldsync show {number}"))
            .await
            .expect("show");
        assert!(
            detail.starts_with(&format!("{number}  P1  NEW")),
            "{detail}"
        );
        assert!(detail.contains("Customer     Harbor (vip)"), "{detail}");
        assert!(detail.contains("Assigned to  nobody yet"), "{detail}");

        let cancelled = run_line(&client, &format!("fieldsync cancel {number} --reason dup"))
            .await
            .expect("cancel");
        assert!(cancelled.contains("now cancelled"), "{cancelled}");
        let open = run_line(&client, "fieldsync list").await.expect("list");
        assert!(
            !open.contains(&number),
            "closed work is hidden by default: {open}"
        );
        let all = run_line(&client, "fieldsync list --all")
            .await
            .expect("list");
        assert!(all.contains(&number), "{all}");
        let status = run_line(&client, "fieldsync status").await.expect("status");
        assert!(status.contains("Pending    2 change(s)"), "{status}");
    }

    #[tokio::test]
    async fn a_technician_records_a_visit() {
        let (_dir, client, me) = client_as(Role::Technician);
        let (id, mut doc) = server_doc(me.user_id);
        let page = response(3, vec![(id, UpdatePayload::Snapshot(doc.save()))]);
        client
            .store()
            .write(|tx| {
                let out = request::build(tx, request::PUSH_BUDGET_BYTES)?;
                apply_response(tx, &out, &page, now())
            })
            .expect("job arrives");
        let number = fieldsync_proto::human_number(&id);
        let prefix = &number[3..7];
        for step in ["accept", "travel", "arrive", "start"] {
            run_line(&client, &format!("fieldsync {step} {prefix}"))
                .await
                .expect(step);
        }
        let text = run_line(
            &client,
            &format!("fieldsync part {number} --part PUMP-200 --qty 2 --from VAN-07 --refurbished"),
        )
        .await
        .expect("part");
        assert!(text.contains("part recorded; now in progress"), "{text}");
        run_line(
            &client,
            &format!(
                "fieldsync repair {number} --diagnosis seized --action replaced --measure pressure=2.4:bar"
            ),
        )
        .await
        .expect("repair");
        run_line(&client, &format!("fieldsync notes {number} --append gate"))
            .await
            .expect("notes");
        run_line(&client, &format!("fieldsync notes {number} --append 4711"))
            .await
            .expect("notes");
        run_line(
            &client,
            &format!("fieldsync complete {number} --resolution fixed --signed-by Ines"),
        )
        .await
        .expect("complete");

        let view: WorkOrderView = serde_json::from_str(
            &run_line(&client, &format!("fieldsync show {number} --json"))
                .await
                .expect("json"),
        )
        .expect("view");
        assert_eq!(view.status, Status::Completed);
        assert_eq!(view.notes, "gate\n4711");
        assert_eq!(view.parts_used, 2);
        let detail = run_line(&client, &format!("fieldsync show {number}"))
            .await
            .expect("show");
        for expected in [
            "Assigned to  you",
            "Timeline",
            "accepted",
            "Parts (2 used)",
            "2 x PUMP-200 from VAN-07, refurbished",
            "found: seized",
            "pressure = 2.4 bar",
            "Notes\n  gate\n  4711",
            "signed by Ines",
        ] {
            assert!(
                detail.contains(expected),
                "missing {expected:?} in\n{detail}"
            );
        }
        let mine = run_line(&client, "fieldsync list --mine")
            .await
            .expect("mine");
        assert!(
            mine.starts_with("No work orders"),
            "completed work is not open: {mine}"
        );
    }

    #[tokio::test]
    async fn mistakes_are_reported_as_errors() {
        let (_dir, client, _) = client_as(Role::Technician);
        let err = run_line(&client, "fieldsync accept WO-ZZZZ-ZZZZ")
            .await
            .expect_err("unknown");
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        let err = run_line(
            &client,
            "fieldsync login --server http://127.0.0.1:1 --user ana",
        )
        .await
        .expect_err("no password");
        assert!(err.to_string().contains("FIELDSYNC_PASSWORD"), "{err}");

        client.logout().expect("log out");
        let err = run_line(&client, "fieldsync whoami")
            .await
            .expect_err("nobody");
        assert!(matches!(err, Error::NotLoggedIn));
        let status = run_line(&client, "fieldsync status").await.expect("status");
        assert!(status.contains("nobody"), "{status}");
    }
}
