//! The attachment commands: `fieldsync attach`, `fieldsync attachments`, `fieldsync fetch`.

use std::fmt::Write;

use crate::attachments::AttachSource;
use crate::client::Client;
use crate::error::{Error, Result};

use super::args::{AttachArgs, FetchArgs};
use super::commands::json;

pub(super) fn attach(client: &Client, a: AttachArgs, as_json: bool) -> Result<String> {
    let id = client.find(&a.wo)?;
    let attachment = client.attach(
        id,
        AttachSource::Path(&a.file),
        a.kind.into(),
        a.content_type.as_deref(),
    )?;
    if as_json {
        return json(&attachment);
    }
    Ok(format!(
        "Attached {} ({}, {} bytes, {}). It uploads with the next `fieldsync sync`.\n",
        attachment.file_name, attachment.kind, attachment.size, attachment.sha256
    ))
}

pub(super) fn list(client: &Client, wo: &str, as_json: bool) -> Result<String> {
    let id = client.find(wo)?;
    let items = client.attachments(id)?;
    if as_json {
        return json(&items);
    }
    if items.is_empty() {
        return Ok("No attachments.\n".into());
    }
    let mut out = String::new();
    for item in &items {
        let a = &item.attachment;
        let state = match (&item.upload_error, item.upload_pending, item.local) {
            (Some(e), _, _) => format!("upload failed: {e}"),
            (None, true, _) => "waiting to upload".into(),
            (None, false, true) => "on this device".into(),
            (None, false, false) => "on the server (fetch to open)".into(),
        };
        let _ = writeln!(
            out,
            "{:<9} {:<28} {:>10} bytes  {}  {}  {}",
            a.kind.as_str(),
            a.file_name,
            a.size,
            &a.sha256.as_str()[..12],
            a.added_at,
            state
        );
    }
    Ok(out)
}

pub(super) async fn fetch(client: &Client, a: FetchArgs, as_json: bool) -> Result<String> {
    let id = client.find(&a.wo)?;
    let items = client.attachments(id)?;
    let wanted: Vec<_> = match &a.sha256 {
        Some(prefix) => {
            let prefix = prefix.trim().to_ascii_lowercase();
            let found: Vec<_> = items
                .into_iter()
                .filter(|i| i.attachment.sha256.as_str().starts_with(&prefix))
                .collect();
            if found.is_empty() {
                return Err(Error::NotFound {
                    what: format!("an attachment {prefix} on this work order"),
                });
            }
            found
        }
        None => items,
    };
    let mut files = Vec::new();
    for item in &wanted {
        let path = client.attachment_file(&item.attachment.sha256).await?;
        let path = match &a.out {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::InvalidInput(format!("cannot create {}: {e}", dir.display()))
                })?;
                let name = if item.attachment.file_name.is_empty() {
                    item.attachment.sha256.to_string()
                } else {
                    item.attachment.file_name.clone()
                };
                let target = dir.join(name);
                std::fs::copy(&path, &target).map_err(|e| {
                    Error::InvalidInput(format!("cannot write {}: {e}", target.display()))
                })?;
                target
            }
            None => path,
        };
        files.push(path);
    }
    if as_json {
        return json(&files);
    }
    let mut out = format!("Fetched {} attachment(s).\n", files.len());
    for f in files {
        let _ = writeln!(out, "  {}", f.display());
    }
    Ok(out)
}
