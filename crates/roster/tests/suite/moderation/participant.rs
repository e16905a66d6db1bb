//! A product's deletion participant, as the tests need one: a real gRPC server
//! implementing `roster.v1.DeletionParticipant` on a random local port, which
//! answers UNAVAILABLE to its first `failures` calls, then acknowledges with
//! fixed counts, and remembers every call. (Also used by `moderation_kill.rs`.)

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use roster_proto::v1::{
    self as pb,
    deletion_participant_server::{DeletionParticipant, DeletionParticipantServer},
};
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

/// What a participant erases for every user.
pub const MESSAGES_ERASED: i64 = 3;

/// One call the participant received.
#[derive(Debug, Clone, PartialEq)]
pub enum ParticipantCall {
    /// `DeleteUserContent`, and whether it was acknowledged.
    Delete {
        request: pb::DeleteUserContentRequest,
        acknowledged: bool,
    },
    /// `PreviewUserContent`.
    Preview(pb::PreviewUserContentRequest),
}

#[derive(Clone)]
struct Behaviour {
    failures_left: Arc<Mutex<usize>>,
    calls: Arc<Mutex<Vec<ParticipantCall>>>,
}

impl Behaviour {
    fn record(&self, call: ParticipantCall) {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(call);
    }

    /// Whether this call is one of the first ones, answered UNAVAILABLE.
    fn fails(&self) -> bool {
        let mut left = self.failures_left.lock().unwrap_or_else(|e| e.into_inner());
        if *left > 0 {
            *left -= 1;
            true
        } else {
            false
        }
    }
}

fn erased() -> HashMap<String, i64> {
    HashMap::from([("messages".to_owned(), MESSAGES_ERASED)])
}

#[tonic::async_trait]
impl DeletionParticipant for Behaviour {
    async fn delete_user_content(
        &self,
        request: Request<pb::DeleteUserContentRequest>,
    ) -> Result<Response<pb::DeleteUserContentResponse>, Status> {
        let request = request.into_inner();
        let fails = self.fails();
        self.record(ParticipantCall::Delete {
            request,
            acknowledged: !fails,
        });
        if fails {
            return Err(Status::unavailable("the chat backend is restarting"));
        }
        Ok(Response::new(pb::DeleteUserContentResponse {
            erased: erased(),
        }))
    }

    async fn preview_user_content(
        &self,
        request: Request<pb::PreviewUserContentRequest>,
    ) -> Result<Response<pb::PreviewUserContentResponse>, Status> {
        self.record(ParticipantCall::Preview(request.into_inner()));
        Ok(Response::new(pb::PreviewUserContentResponse {
            would_erase: erased(),
        }))
    }
}

/// The running participant; stops serving when dropped.
pub struct FakeParticipant {
    pub endpoint: String,
    behaviour: Behaviour,
    _stop: oneshot::Sender<()>,
}

impl FakeParticipant {
    /// Serves on a random local port; the first `failures` deletion calls fail.
    pub async fn start(failures: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("binding the participant: {e}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the participant's address: {e}"));
        let behaviour = Behaviour {
            failures_left: Arc::new(Mutex::new(failures)),
            calls: Arc::default(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tonic::transport::Server::builder()
            .add_service(DeletionParticipantServer::new(behaviour.clone()))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            );
        tokio::spawn(async move {
            server
                .await
                .unwrap_or_else(|e| panic!("the participant failed: {e}"));
        });
        Self {
            endpoint: format!("http://{address}"),
            behaviour,
            _stop: stop,
        }
    }

    pub fn calls(&self) -> Vec<ParticipantCall> {
        self.behaviour
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The `DeleteUserContent` calls, with whether each was acknowledged.
    pub fn deletions(&self) -> Vec<(pb::DeleteUserContentRequest, bool)> {
        self.calls()
            .into_iter()
            .filter_map(|call| match call {
                ParticipantCall::Delete {
                    request,
                    acknowledged,
                } => Some((request, acknowledged)),
                ParticipantCall::Preview(_) => None,
            })
            .collect()
    }
}
