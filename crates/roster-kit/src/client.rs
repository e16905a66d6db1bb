//! Outgoing gRPC connections between Roster services.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::error::Error;

/// A channel to `endpoint` (e.g. `http://roster-roles:50051`) that connects on
/// first use and reconnects by itself, so services can start in any order.
/// `field` names the setting the endpoint came from, for the error message.
pub fn lazy_channel(endpoint: &str, field: &str) -> Result<Channel, Error> {
    Ok(Endpoint::from_shared(endpoint.to_owned())
        .map_err(|_| Error::invalid_field(field, format!("{endpoint:?} is not a valid URI")))?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true)
        .connect_lazy())
}
