//! Roster role & permission service.
