//! Test support for Fieldsync's end-to-end scenarios: a real server on a loopback port with a
//! throw-away database, devices with their own stores in temporary directories, and realistic
//! intake data.

pub mod bench;
pub mod fault_proxy;
pub mod fuzz_bodies;
pub mod inspect;
pub mod small_disk;

use std::net::SocketAddr;
use std::path::PathBuf;

use fieldsync_client::Client;
use fieldsync_proto::{
    Asset, Contact, Customer, CustomerId, CustomerTier, Impact, IntakeChannel, NewWorkOrder,
    ProblemCategory, Role, Site, Urgency, UserId,
};
use fieldsync_server::{NewUser, RunningServer, ServerOptions, StartOptions, TechnicianProfile};
use tempfile::TempDir;

/// Password of every user the harness creates.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running server with a dispatcher, two technicians and an admin (`admin`), on a
/// temporary database.
pub struct TestServer {
    pub server: RunningServer,
    pub dispatcher: UserId,
    pub tech_a: UserId,
    pub tech_b: UserId,
    pub admin: UserId,
    extra: StartOptions,
    data_dir: PathBuf,
    _data: Option<TempDir>,
}

fn options(data_dir: &std::path::Path) -> ServerOptions {
    ServerOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data_dir.to_path_buf(),
        demo: false,
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(StartOptions::default()).await
    }

    /// With TLS, other login limits…
    pub async fn start_with(extra: StartOptions) -> TestServer {
        let data = TempDir::new().expect("temp dir");
        let data_dir = data.path().to_path_buf();
        Self::start_in(data_dir, Some(data), extra).await
    }

    /// With its database in `data_dir` (a small file system, say), which the caller cleans up.
    pub async fn start_at(data_dir: PathBuf) -> TestServer {
        Self::start_in(data_dir, None, StartOptions::default()).await
    }

    async fn start_in(data_dir: PathBuf, data: Option<TempDir>, extra: StartOptions) -> TestServer {
        let server = RunningServer::start_with(options(&data_dir), extra.clone())
            .await
            .expect("server starts");
        let dispatcher = create_user(&server, "dispatch", Role::Dispatcher).await;
        let tech_a = create_user(&server, "tech-a", Role::Technician).await;
        let tech_b = create_user(&server, "tech-b", Role::Technician).await;
        let admin = create_user(&server, "admin", Role::Admin).await;
        TestServer {
            server,
            dispatcher,
            tech_a,
            tech_b,
            admin,
            extra,
            data_dir,
            _data: data,
        }
    }

    /// Stops the server for good (its database stays, for another server to open).
    pub async fn stop(self) {
        self.server.shutdown().await;
    }

    /// Stops the server and starts it again on the same database (on a new port).
    pub async fn restart(&mut self) {
        let fresh = RunningServer::start_with(options(&self.data_dir), self.extra.clone())
            .await
            .expect("server restarts");
        let old = std::mem::replace(&mut self.server, fresh);
        old.shutdown().await;
    }

    /// A bearer token for `username`, from a login of its own (for raw API calls).
    pub async fn token(&self, username: &str) -> String {
        let answer: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/v1/login", self.url()))
            .json(&serde_json::json!({
                "username": username, "password": PASSWORD, "device_name": "test script"
            }))
            .send()
            .await
            .expect("login request")
            .error_for_status()
            .expect("login accepted")
            .json()
            .await
            .expect("login answer");
        answer["token"].as_str().expect("token").to_owned()
    }

    /// `GET path` with `token`: the status and the JSON body.
    pub async fn get(&self, token: &str, path: &str) -> (u16, serde_json::Value) {
        let resp = reqwest::Client::new()
            .get(format!("{}{path}", self.url()))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The directory holding the server's database.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Creates one more user with the harness password.
    pub async fn add_user(&self, username: &str, role: Role) -> UserId {
        create_user(&self.server, username, role).await
    }

    /// A new device with its own store, logged in as `username`.
    pub async fn device(&self, username: &str) -> Device {
        Device::login(&self.url(), username).await
    }
}

async fn create_user(server: &RunningServer, username: &str, role: Role) -> UserId {
    server
        .state()
        .create_user(NewUser {
            username: username.into(),
            password: PASSWORD.into(),
            display_name: username.replace('-', " "),
            role,
            profile: TechnicianProfile {
                skills: vec!["hardware".into(), "installation".into()],
                region: "north".into(),
                latitude: 53.55,
                longitude: 9.99,
                senior: false,
            },
        })
        .await
        .expect("user created")
}

/// A device: a store in a temporary directory and the library on top of it.
pub struct Device {
    pub client: Client,
    pub dir: TempDir,
}

impl Device {
    pub async fn login(server_url: &str, username: &str) -> Device {
        Self::try_login(server_url, username)
            .await
            .expect("device logs in")
    }

    /// `login`, returning failures instead of panicking (for the benchmarks).
    pub async fn try_login(server_url: &str, username: &str) -> anyhow::Result<Device> {
        let dir = TempDir::new()?;
        let client = Client::open(dir.path())?;
        client
            .login(
                server_url,
                username,
                PASSWORD,
                &format!("{username}'s tablet"),
            )
            .await?;
        Ok(Device { client, dir })
    }

    /// Where this device keeps its store, to reopen it after a "crash".
    pub fn store_path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Closes the library and opens the same store again, as after an app restart.
    pub fn reopen(self) -> Device {
        let Device { client, dir } = self;
        drop(client);
        let client = Client::open(dir.path()).expect("store reopens");
        Device { client, dir }
    }
}

/// A realistic intake: a bakery's oven that no longer heats.
pub fn intake(assignee: Option<UserId>) -> NewWorkOrder {
    NewWorkOrder {
        channel: IntakeChannel::Phone,
        customer: Customer {
            id: CustomerId::new(),
            name: "Harbor Bakery".into(),
            tier: CustomerTier::Standard,
            site: Site {
                address: "Am Sandtorkai 1, Hamburg".into(),
                region: "north".into(),
                latitude: 53.5436,
                longitude: 9.9881,
            },
            contact: Contact {
                name: "Ines Roth".into(),
                phone: "+49 40 1234567".into(),
                email: "ines@harbor-bakery.example".into(),
            },
        },
        asset: Asset {
            model: "Deck oven DX-200".into(),
            serial: "DX200-00917".into(),
        },
        category: ProblemCategory::Hardware,
        urgency: Urgency::Normal,
        impact: Impact::OneUnit,
        description: "Lower deck does not reach temperature; error E42 on the panel.".into(),
        schedule: None,
        assignee,
    }
}
