//! Objects written for an upload whose metadata is not committed yet: deleted
//! unless the upload succeeds, so a failed or cancelled upload leaves nothing.

use std::sync::Arc;

use crate::domain::{ports::ObjectStorage, types::ObjectKey};

/// Unless [`PendingObjects::keep`] is called the objects are deleted: by
/// [`PendingObjects::discard`] on a failure, or from `Drop` when the upload is
/// cancelled (e.g. the call's deadline passed).
pub(crate) struct PendingObjects {
    objects: Arc<dyn ObjectStorage>,
    keys: Vec<ObjectKey>,
}

impl PendingObjects {
    pub(crate) fn new(objects: Arc<dyn ObjectStorage>) -> Self {
        Self {
            objects,
            keys: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, key: ObjectKey) {
        self.keys.push(key);
    }

    /// The upload is committed: its objects stay.
    pub(crate) fn keep(mut self) {
        self.keys.clear();
    }

    pub(crate) async fn discard(mut self) {
        let keys = std::mem::take(&mut self.keys);
        delete_all(self.objects.as_ref(), &keys).await;
    }
}

async fn delete_all(objects: &dyn ObjectStorage, keys: &[ObjectKey]) {
    if keys.is_empty() {
        return;
    }
    if let Err(err) = objects.delete(keys).await {
        tracing::error!(error = %err, count = keys.len(), "could not delete the objects of a failed upload");
    }
}

impl Drop for PendingObjects {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let keys = std::mem::take(&mut self.keys);
        let objects = self.objects.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { delete_all(objects.as_ref(), &keys).await });
        } else {
            tracing::error!(
                count = keys.len(),
                "objects of a cancelled upload were left behind"
            );
        }
    }
}
