//! The typed action record: every field of Halo's `Actions` schema that billing,
//! auditing or a later export can use, each read exactly from its JSON text.
//!
//! The field list lives in one place, [`for_each_action_field!`], and everything else
//! (the record struct, its raw JSON form, the frame schema) is generated from it, so a
//! field cannot be added in one place and forgotten in another.
//!
//! This module reads JSON values and validates them; it knows nothing of files, HTTP or
//! columnar storage.

pub mod canon;
pub mod datetime;
pub mod kinds;
mod plain;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

pub use kinds::{FieldError, Kind};

/// Calls `$m!` with the whole field table: `name: Kind = "doc"`.
///
/// The order is the column order of the frame and of the Parquet files.
#[macro_export]
macro_rules! for_each_action_field {
    ($m:ident) => {
        $m! {
            // Core fields
            id: Int = "Action ID: a per-ticket sequence number; `(ticket_id, id)` identifies an action.",
            ticket_id: Int = "The ticket the action belongs to.",
            outcome: Text = "The action outcome name.",
            outcome_id: Int = "The action outcome ID.",
            action_systemid: Int = "System-defined action type ID.",
            datetime: Date = "When the action occurred (UTC); the date reports use for periods.",
            last_updated: Date = "When the action was last updated (UTC); the newer copy wins.",
            actiondatecreated: Date = "When the action record was created (UTC).",
            note: Text = "The plain-text note body.",
            note_html: Text = "The HTML note body.",
            important: Flag = "Whether the action is marked as important.",
            hiddenfromuser: Flag = "Whether the action is hidden from the end user.",
            private_note: Text = "A private note visible only to agents.",
            // Who performed the action
            who: Text = "Display name of who performed the action.",
            who_type: Int = "0 = Agent, 1 = End User, etc.",
            who_agentid: Int = "ID of the agent who performed the action.",
            who_initials: Text = "Display initials of the actor.",
            who_colour: Text = "Avatar colour for the actor.",
            who_imgpath: Text = "Avatar image path for the actor.",
            who_onlinestatus: Int = "Online status of the actor.",
            actionby_agent_id: Int = "Agent ID who performed the action.",
            actionby_user_id: Int = "User ID who performed the action.",
            on_behalf_of: Int = "User ID the action was performed on behalf of.",
            on_behalf_of_name: Text = "Display name for the on-behalf-of user.",
            // Email fields
            emailfrom: Text = "From email address.",
            emailto: Text = "To email address.",
            emailtonew: Text = "Parsed/new to address.",
            emailcc: Text = "CC email address.",
            emailccnew: Text = "Parsed/new CC address.",
            emailsubject: Text = "Email subject line.",
            emailbody: Text = "Plain text email body.",
            emailbody_html: Text = "HTML email body.",
            emaildirection: Text = "Direction of email (inbound/outbound).",
            email_message_id: Text = "The email Message-ID header value.",
            sendemail: Flag = "Whether to send an email for this action.",
            email_status: Int = "Email delivery status code.",
            emailimportance: Text = "Email importance header value.",
            dateemailed: Date = "When the email was sent (UTC).",
            replytoaddress: Text = "Reply-to email address.",
            from_mailbox_id: Int = "Mailbox ID the action came from.",
            // Time and billing fields
            timetaken: Hours = "Time taken, in hours.",
            timetakendays: Days = "Time taken, in days.",
            timetakenadjusted: SignedHours = "Adjusted time taken, in hours (may be negative).",
            nonbilltime: Hours = "Non-billable time, in hours.",
            traveltime: Hours = "Travel time, in hours.",
            mileage: Miles = "Mileage recorded.",
            actisbillable: Flag = "Whether this action is billable.",
            chargerate: Int = "Charge type ID (not a money rate).",
            action_contract_id: RefId = "Contract ID; Halo's -1 and 0 mean no contract.",
            action_contract_ref: Key = "Contract reference.",
            actionchargehours: Hours = "Chargeable hours.",
            actionchargeamount: Money = "Chargeable amount.",
            actionnonchargehours: Hours = "Non-chargeable hours.",
            actionnonchargeamount: Money = "Non-chargeable amount.",
            actionprepayhours: Hours = "Prepaid (block) hours used.",
            actionprepayamount: Money = "Prepaid (block) amount used.",
            actioninvoicenumber: Key = "Invoice number the action was billed on; none means not yet invoiced.",
            invoice_id: RefId = "Invoice record ID; -1 and 0 mean none.",
            action_invoice_line_id: RefId = "Invoice line ID; -1 and 0 mean none.",
            actionarrivaldate: Date = "Arrival date for on-site work (UTC).",
            actioncompletiondate: Date = "Completion date (UTC).",
        }
    };
}

macro_rules! define_action {
    ($($field:ident : $kind:ident = $doc:literal),* $(,)?) => {
        /// One Halo action (time entry), every figure exact (see [`crate::exact`]).
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct Action {
            $(
                #[doc = $doc]
                pub $field: <kinds::$kind as Kind>::Value,
            )*
        }

        /// An action as it stands in the JSON: each field still its raw token text.
        #[derive(Debug, Clone, Default, Deserialize)]
        pub struct RawAction<'a> {
            $(
                #[serde(borrow, default)]
                #[doc = $doc]
                pub $field: Option<Raw<'a>>,
            )*
        }

        impl<'a> RawAction<'a> {
            /// Sets the field named `key` (see [`plain`]); false when `key` names a field
            /// already set (a duplicate key, which serde refuses).
            fn set(&mut self, key: &str, value: Raw<'a>) -> bool {
                match key {
                    $( stringify!($field) => {
                        if self.$field.is_some() {
                            return false;
                        }
                        self.$field = Some(value);
                    } )*
                    _ => {}
                }
                true
            }

            /// Lays `full`'s fields over this one's: where both describe one action, the
            /// full record (`actionsdetails`) wins and the summary only fills gaps.
            pub fn overlay(&mut self, full: &RawAction<'a>) {
                $( if full.$field.is_some() { self.$field = full.$field; } )*
            }

            /// Reads every field, borrowing text from the document; the first bad one
            /// is the error.
            pub fn to_ref(&self) -> Result<ActionRef<'a>, FieldError> {
                Ok(ActionRef {
                    $(
                        $field: match self.$field {
                            None => <kinds::$kind as Kind>::missing(),
                            Some(raw) => <kinds::$kind as Kind>::parse_ref(raw.get())
                                .map_err(|reason| FieldError { field: stringify!($field), reason })?,
                        },
                    )*
                })
            }
        }

        /// An action read from its JSON without copying its text (see [`Kind::Ref`]):
        /// what the import lays out as columns. [`Action`] is its owned form.
        #[derive(Debug, Clone, Default)]
        pub struct ActionRef<'a> {
            $(
                #[doc = $doc]
                pub $field: <kinds::$kind as Kind>::Ref<'a>,
            )*
        }

        impl<'a> ActionRef<'a> {
            /// The owned action.
            pub fn into_owned(self) -> Action {
                Action { $( $field: <kinds::$kind as Kind>::to_owned(self.$field), )* }
            }

            /// Appends the canonical encoding of every field (see [`canon`]) to `out`.
            pub fn encode_canonical(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(canon::HEADER);
                $( canon::Canonical::encode(&self.$field, out); )*
            }
        }

        impl Action {
            /// A borrowed view of this action.
            pub fn as_ref(&self) -> ActionRef<'_> {
                ActionRef { $( $field: <kinds::$kind as Kind>::borrow(&self.$field), )* }
            }
        }

        /// The names of every field, in frame order.
        pub const FIELD_NAMES: &[&str] = &[$(stringify!($field)),*];

    };
}

for_each_action_field!(define_action);

/// The text of one JSON value as it stands in the document (what serde_json's
/// `RawValue::get` gives: no surrounding whitespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw<'a>(&'a str);

impl<'a> Raw<'a> {
    /// The value's text.
    pub fn get(self) -> &'a str {
        self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Raw<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de RawValue>::deserialize(d).map(|r| Raw(r.get()))
    }
}

impl<'a> RawAction<'a> {
    /// Reads one record: by [`plain`]'s reader when the record is plain JSON of the usual
    /// form, else by serde_json (which gives the same fields, or the error).
    pub fn read(text: &'a str) -> Result<RawAction<'a>, serde_json::Error> {
        match plain::read(text) {
            Some(raw) => Ok(raw),
            None => serde_json::from_str(text),
        }
    }

    /// Reads the record whose text starts at byte `start` of `text` (on its `{`) when
    /// it is plain JSON of the usual form: the record and the end of its text. `None`
    /// for anything else (the caller finds the record's end its own way and reads it
    /// with [`RawAction::read`]).
    pub fn read_plain_at(text: &'a str, start: usize) -> Option<(RawAction<'a>, usize)> {
        plain::read_at(text, start)
    }

    /// The identity as far as it can be read, for error messages about this record.
    pub fn key_hint(&self) -> (Option<i64>, Option<i64>) {
        let read =
            |v: Option<Raw<'_>>| v.and_then(|r| crate::exact::parse_whole(r.get()).ok().flatten());
        (read(self.ticket_id), read(self.id))
    }
}

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// One field held a value that cannot be what the field means.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The record has no `id` (or it is null).
    #[error("record has no `id`")]
    NoId,
    /// The record has no `ticket_id`, and the page it came in named none either.
    #[error("record has no `ticket_id`")]
    NoTicketId,
}

impl<'a> ActionRef<'a> {
    /// Reads and validates a raw record. `page_ticket_id` is the wrapper's `ticket_id`,
    /// used when the record itself leaves it out (pages fetched for one ticket do).
    pub fn from_raw(
        raw: &RawAction<'a>,
        page_ticket_id: Option<i64>,
    ) -> Result<ActionRef<'a>, RecordError> {
        let mut action = raw.to_ref()?;
        if action.id.is_none() {
            return Err(RecordError::NoId);
        }
        if action.ticket_id.is_none() {
            action.ticket_id = page_ticket_id;
        }
        if action.ticket_id.is_none() {
            return Err(RecordError::NoTicketId);
        }
        Ok(action)
    }

    /// The content hash (see [`Action::content_hash`]), encoding into `scratch`
    /// (cleared first; reused across records so that hashing allocates nothing).
    pub fn content_hash(&self, scratch: &mut Vec<u8>) -> i64 {
        scratch.clear();
        self.encode_canonical(scratch);
        canon::hash(scratch)
    }

    /// `(ticket_id, id)`; both are present on every action that passed [`ActionRef::from_raw`].
    pub fn key(&self) -> (i64, i64) {
        (
            self.ticket_id.unwrap_or_default(),
            self.id.unwrap_or_default(),
        )
    }
}

impl Action {
    /// Reads and validates a raw record (see [`ActionRef::from_raw`]).
    pub fn from_raw(
        raw: &RawAction<'_>,
        page_ticket_id: Option<i64>,
    ) -> Result<Action, RecordError> {
        ActionRef::from_raw(raw, page_ticket_id).map(ActionRef::into_owned)
    }

    /// The canonical encoding of every field (see [`canon`]).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Sized for a typical action, so the buffer is not grown field by field.
        let mut out = Vec::with_capacity(2048);
        self.as_ref().encode_canonical(&mut out);
        out
    }

    /// A 64-bit hash of every field with a fixed specification ([`canon`]): equal for
    /// identical copies of an action, so that re-imports of unchanged data can be
    /// recognised without comparing each column, and the same in every version.
    pub fn content_hash(&self) -> i64 {
        canon::hash(&self.canonical_bytes())
    }

    /// `(ticket_id, id)`; both are present on every action that passed [`Action::from_raw`].
    pub fn key(&self) -> (i64, i64) {
        (
            self.ticket_id.unwrap_or_default(),
            self.id.unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Action, RecordError> {
        let raw: RawAction = serde_json::from_str(json).unwrap();
        Action::from_raw(&raw, None)
    }

    #[test]
    fn halo_quirks_are_tolerated() {
        let a = parse(
            r#"{"id":3,"ticket_id":10,"timetaken":0.3333333333333333,"actionchargeamount":41.666666666666664,
                "nonbilltime":-0.0,"action_contract_id":-1,"invoice_id":0,"actioninvoicenumber":"",
                "datetime":"2024-06-20T14:45:18.0782286Z","actiondatecreated":"1900-01-01T00:00:00",
                "customfields":[{"id":1}],"unknown":{"x":[1,2]}}"#,
        )
        .unwrap();
        assert_eq!(a.key(), (10, 3));
        assert_eq!(a.timetaken, 1_200_000);
        assert_eq!(a.actionchargeamount, 4167);
        assert_eq!(a.nonbilltime, 0);
        assert_eq!(a.action_contract_id, None);
        assert_eq!(a.invoice_id, None);
        assert_eq!(a.actioninvoicenumber, None);
        assert_eq!(a.actiondatecreated, None);
        assert!(a.datetime.is_some());
        assert_eq!(a.traveltime, 0, "missing means zero");
    }

    #[test]
    fn wrong_values_name_the_field() {
        let e = parse(r#"{"id":3,"ticket_id":10,"timetaken":"abc"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field `timetaken`: expected a number, found the string \"abc\""
        );
        let e = parse(r#"{"id":3,"ticket_id":10,"actionchargeamount":-5.5}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field `actionchargeamount`: `-5.5` is negative, which this field cannot be"
        );
        assert_eq!(parse(r#"{"ticket_id":10}"#).unwrap_err(), RecordError::NoId);
        assert_eq!(parse(r#"{"id":1}"#).unwrap_err(), RecordError::NoTicketId);
    }

    #[test]
    fn full_record_wins_over_summary() {
        let mut summary: RawAction =
            serde_json::from_str(r#"{"id":1,"ticket_id":2,"note":"short","timetaken":1}"#).unwrap();
        let full: RawAction = serde_json::from_str(
            r#"{"id":1,"ticket_id":2,"timetaken":1.5,"actionchargeamount":10}"#,
        )
        .unwrap();
        summary.overlay(&full);
        let a = Action::from_raw(&summary, None).unwrap();
        assert_eq!(a.note.as_deref(), Some("short"));
        assert_eq!(a.timetaken, 5_400_000);
        assert_eq!(a.actionchargeamount, 1000);
    }
}
