//! Helpers for integration tests: real databases, created fresh per test.
//!
//! PostgreSQL is reached at `ROSTER_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432`); each test gets its own database with a
//! random name, dropped when the [`TestDatabase`] is dropped. SQLite tests get a
//! file in a temporary directory.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};

/// Which backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database for one test.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

pub fn postgres_admin_url() -> String {
    std::env::var("ROSTER_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres().await,
        }
    }

    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("roster-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {dir:?}: {e}"));
        let url = format!("sqlite://{}?mode=rwc", dir.join("test.db").display());
        Self {
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    pub async fn postgres() -> Self {
        let admin_url = postgres_admin_url();
        let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(format!("{admin_url}/postgres"))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is not reachable (run `make test`, which starts it): {e}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        let _ = admin.close().await;
        Self {
            url: format!("{admin_url}/{name}"),
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                // Drop runs outside any runtime guarantee; use a short-lived one on a
                // plain thread so it works from both sync and async contexts.
                let admin_url = admin_url.clone();
                let name = name.clone();
                let _ = std::thread::spawn(move || {
                    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    runtime.block_on(async move {
                        if let Ok(admin) = Database::connect(format!("{admin_url}/postgres")).await
                        {
                            let _ = tokio::time::timeout(
                                Duration::from_secs(10),
                                admin.execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                )),
                            )
                            .await;
                            let _ = admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// A `TcpListener` on a random local port, and its `http://` address.
pub async fn local_listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("binding a local port: {e}"));
    let address = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("reading the bound address: {e}"));
    (listener, format!("http://{address}"))
}
