//! Deleting a user: a durable job of ordered, idempotent steps across Roster's
//! services and the products' deletion participants, run by a
//! [`DeletionRunner`] on whichever replica holds the job's lease, leaving a
//! receipt without personal data.

mod model;
mod requests;
mod runner;
mod schedule;

pub use model::{
    Counts, DeleteOutcome, DeleteUserInput, DeletionJob, DeletionOptions, DeletionPreview,
    DeletionStep, JobQuery, JobState, Lease, NewDeletionJob, PlannedStep, PreviewEntry, Receipt,
    ReceiptLine, StepKind, StepOutcome, StepState, counts, plan_steps, services,
};
pub use runner::DeletionRunner;
pub use schedule::{Backoff, PausePoint, RunnerSettings};
