//! The object a check is about: the route segment the rule names, decoded
//! exactly as the handler's own `web::Path` decodes it.

use std::borrow::Cow;

use actix_web::HttpRequest;
use percent_encoding::percent_decode_str;

use super::Rule;
use super::denial::RouteOf;

/// The object's id: the value of the rule's route segment, decoded exactly
/// as the handler's own extractor decodes it (`web::Path` percent-decodes
/// every escape, `%2F`, `%25` and `%2B` too, which the router keeps
/// encoded), so the check and the handler always name the same object.
/// Nothing is extracted. A route without that segment, or with several of
/// that name (a scope's and the handler's), is the app's mistake: logged
/// here naming the handler, and the caller answers 500.
pub(super) fn object_id<'r>(req: &'r HttpRequest, rule: &Rule) -> Option<Cow<'r, str>> {
    let segment = rule.object.unwrap_or_default();
    let mut values = req
        .match_info()
        .iter()
        .filter(|(name, _)| *name == segment)
        .map(|(_, value)| value);
    let problem = match (values.next(), values.next()) {
        (Some(raw), None) => return Some(percent_decode_str(raw).decode_utf8_lossy()),
        (None, _) => "names no segment of this route",
        (Some(_), Some(_)) => {
            "names several segments of this route (a scope's and the handler's?), so which object the handler acts on is ambiguous"
        }
    };
    tracing::error!(
        target: "actix_permit",
        handler = rule.handler,
        route = %RouteOf(req),
        "object = \"{segment}\" {problem}; failing closed"
    );
    None
}
