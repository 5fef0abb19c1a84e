//! [`MemoryBackend`]: users, groups and permissions held in memory.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use super::{
    AdminError, Authentication, Authorization, BackendError, Introspection, PermissionSource,
    PermsResult, StoredUser, UserResult,
};
use crate::password;
use crate::permission::{self, PermissionSet};
use crate::records::{self, EndReason, RecordStore, SessionInfo, SessionRecord};
use crate::token::{self, NewToken, StoredToken, TokenInfo, TokenStore};
use crate::user::AuthUser;

/// A user stored by [`MemoryBackend`].
pub type MemoryUser = StoredUser;

#[derive(Default)]
struct State {
    /// Effective permissions per user id, computed on first use and dropped
    /// on every change, so that a request costs a hash lookup.
    effective: HashMap<String, Arc<PermissionSet>>,
    next_id: u64,
    users: HashMap<String, Arc<MemoryUser>>,
    ids_by_name: HashMap<String, String>,
    groups: HashMap<String, HashSet<String>>,
    user_groups: HashMap<String, HashSet<String>>,
    user_perms: HashMap<String, HashSet<String>>,
    /// Object permissions per user id and per group: (permission, object).
    user_objects: HashMap<String, HashSet<(String, String)>>,
    group_objects: HashMap<String, HashSet<(String, String)>>,
    /// API tokens, by prefix.
    tokens: HashMap<String, MemoryToken>,
    /// Session records, by id.
    records: HashMap<String, MemoryRecord>,
}

/// A session record as the memory backend keeps it.
struct MemoryRecord {
    device: String,
    address: String,
    created: SystemTime,
    ended: Option<(SystemTime, EndReason)>,
    stored: Arc<SessionRecord>,
}

impl MemoryRecord {
    fn end(&mut self, reason: EndReason, now: SystemTime) {
        if self.ended.is_none() {
            self.ended = Some((now, reason));
            self.stored = Arc::new(SessionRecord::new(
                self.stored.user_id().to_owned(),
                false,
                self.stored.last_seen(),
            ));
        }
    }
}

impl State {
    /// Ends `id`'s live sessions but `except`; how many.
    fn end_records(&mut self, id: &str, except: Option<&str>, reason: EndReason) -> usize {
        let now = SystemTime::now();
        let mut ended = 0;
        for (key, record) in &mut self.records {
            if record.stored.user_id() == id
                && record.ended.is_none()
                && Some(key.as_str()) != except
            {
                record.end(reason, now);
                ended += 1;
            }
        }
        ended
    }
}

/// A token as the memory backend keeps it.
struct MemoryToken {
    name: String,
    scopes: Vec<String>,
    created: SystemTime,
    stored: Arc<StoredToken>,
}

impl State {
    fn id_of(&self, username: &str) -> Result<String, AdminError> {
        self.ids_by_name
            .get(username)
            .cloned()
            .ok_or_else(|| AdminError::UnknownUser(username.to_owned()))
    }

    fn update_user(
        &mut self,
        username: &str,
        change: impl FnOnce(&mut MemoryUser),
    ) -> Result<(), AdminError> {
        let id = self.id_of(username)?;
        if let Some(user) = self.users.get_mut(&id) {
            change(Arc::make_mut(user));
        }
        Ok(())
    }
}

/// Users, groups and permissions held in memory: the embedded default, for
/// tests and small apps. Changes take effect on the next request.
///
/// ```
/// use actix_permit::backend::MemoryBackend;
///
/// let backend = MemoryBackend::new();
/// backend.add_user("alice", "wonderland")?;
/// backend.add_group("editors", ["blog.change_post", "blog.add_post"])?;
/// backend.add_user_to_group("alice", "editors")?;
/// backend.grant("alice", "blog.delete_post")?;
/// # Ok::<(), actix_permit::backend::AdminError>(())
/// ```
#[derive(Default)]
pub struct MemoryBackend {
    state: RwLock<State>,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, for a change: cached effective permissions are dropped.
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.effective.clear();
        state
    }

    /// Adds an active, non-superuser user and returns their id.
    pub fn add_user(&self, username: &str, password: &str) -> Result<String, AdminError> {
        let password_hash = password::hash_password(password)?;
        let mut state = self.write();
        if state.ids_by_name.contains_key(username) {
            return Err(AdminError::DuplicateUser(username.to_owned()));
        }
        state.next_id += 1;
        let id = state.next_id.to_string();
        let user = StoredUser::new(id.clone(), username.to_owned(), password_hash, true, false);
        state.users.insert(id.clone(), Arc::new(user));
        state.ids_by_name.insert(username.to_owned(), id.clone());
        Ok(id)
    }

    /// Removes a user with their grants and group memberships.
    pub fn remove_user(&self, username: &str) -> Result<(), AdminError> {
        let mut state = self.write();
        let id = state.id_of(username)?;
        state.ids_by_name.remove(username);
        state.users.remove(&id);
        state.user_groups.remove(&id);
        state.user_perms.remove(&id);
        state.user_objects.remove(&id);
        state.tokens.retain(|_, token| token.stored.user_id() != id);
        state
            .records
            .retain(|_, record| record.stored.user_id() != id);
        Ok(())
    }

    /// Makes a user a superuser, or not.
    pub fn set_superuser(&self, username: &str, superuser: bool) -> Result<(), AdminError> {
        self.write()
            .update_user(username, |u| u.superuser = superuser)
    }

    /// Activates or deactivates a user.
    pub fn set_active(&self, username: &str, active: bool) -> Result<(), AdminError> {
        self.write().update_user(username, |u| u.active = active)
    }

    /// Sets a new password; the user's existing sessions end (their
    /// records say so).
    pub fn set_password(&self, username: &str, password: &str) -> Result<(), AdminError> {
        let hash = password::hash_password(password)?;
        let mut state = self.write();
        state.update_user(username, |u| u.set_password_hash(hash))?;
        let id = state.id_of(username)?;
        state.end_records(&id, None, EndReason::PasswordChanged);
        Ok(())
    }

    /// A user's sessions: those that last, and those ended within
    /// [`records::ENDED_KEPT`], newest first.
    pub fn sessions(&self, username: &str) -> Result<Vec<SessionInfo>, AdminError> {
        let state = self.read();
        let id = state.id_of(username)?;
        let now = SystemTime::now();
        let mut list: Vec<SessionInfo> = state
            .records
            .iter()
            .filter(|(_, r)| r.stored.user_id() == id)
            .filter(|(_, r)| r.ended.is_none_or(|(at, _)| at + records::ENDED_KEPT > now))
            .map(|(key, r)| SessionInfo {
                id: key.clone(),
                device: r.device.clone(),
                address: r.address.clone(),
                created: r.created,
                last_seen: r.stored.last_seen(),
                ended: r.ended,
            })
            .collect();
        list.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(list)
    }

    /// Ends one of a user's sessions: from its next request on it is
    /// anonymous, and its cookie with it.
    pub fn end_session(
        &self,
        username: &str,
        id: &str,
        reason: EndReason,
    ) -> Result<(), AdminError> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let user = state.id_of(username)?;
        match state.records.get_mut(id) {
            Some(record) if record.stored.user_id() == user => {
                record.end(reason, SystemTime::now());
                Ok(())
            }
            _ => Err(AdminError::UnknownSession(id.to_owned())),
        }
    }

    /// Ends every session of a user but `except` (the one asking, for
    /// "log out other devices"); how many ended.
    pub fn end_sessions(
        &self,
        username: &str,
        except: Option<&str>,
        reason: EndReason,
    ) -> Result<usize, AdminError> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let user = state.id_of(username)?;
        Ok(state.end_records(&user, except, reason))
    }

    /// Grants a permission to a user directly.
    pub fn grant(&self, username: &str, perm: &str) -> Result<(), AdminError> {
        permission::validate(perm)?;
        let mut state = self.write();
        let id = state.id_of(username)?;
        state
            .user_perms
            .entry(id)
            .or_default()
            .insert(perm.to_owned());
        Ok(())
    }

    /// Takes a directly granted permission away (group permissions stay).
    pub fn revoke(&self, username: &str, perm: &str) -> Result<(), AdminError> {
        let mut state = self.write();
        let id = state.id_of(username)?;
        if let Some(perms) = state.user_perms.get_mut(&id) {
            perms.remove(perm);
        }
        Ok(())
    }

    /// Creates a group holding `perms`, or adds `perms` to an existing one.
    pub fn add_group<'p>(
        &self,
        name: &str,
        perms: impl IntoIterator<Item = &'p str>,
    ) -> Result<(), AdminError> {
        let perms: Vec<&str> = perms.into_iter().collect();
        for perm in &perms {
            permission::validate(perm)?;
        }
        let mut state = self.write();
        let group = state.groups.entry(name.to_owned()).or_default();
        group.extend(perms.into_iter().map(str::to_owned));
        Ok(())
    }

    /// Takes a permission away from a group.
    pub fn revoke_from_group(&self, group: &str, perm: &str) -> Result<(), AdminError> {
        let mut state = self.write();
        let perms = state
            .groups
            .get_mut(group)
            .ok_or_else(|| AdminError::UnknownGroup(group.to_owned()))?;
        perms.remove(perm);
        Ok(())
    }

    /// Makes a user a member of a group.
    pub fn add_user_to_group(&self, username: &str, group: &str) -> Result<(), AdminError> {
        let mut state = self.write();
        if !state.groups.contains_key(group) {
            return Err(AdminError::UnknownGroup(group.to_owned()));
        }
        let id = state.id_of(username)?;
        state
            .user_groups
            .entry(id)
            .or_default()
            .insert(group.to_owned());
        Ok(())
    }

    /// Grants `perm` on one object (its id) to a user directly.
    pub fn grant_object(&self, username: &str, perm: &str, object: &str) -> Result<(), AdminError> {
        permission::validate(perm)?;
        let mut state = self.write();
        let id = state.id_of(username)?;
        state
            .user_objects
            .entry(id)
            .or_default()
            .insert((perm.to_owned(), object.to_owned()));
        Ok(())
    }

    /// Takes a directly granted object permission away.
    pub fn revoke_object(
        &self,
        username: &str,
        perm: &str,
        object: &str,
    ) -> Result<(), AdminError> {
        let mut state = self.write();
        let id = state.id_of(username)?;
        if let Some(grants) = state.user_objects.get_mut(&id) {
            grants.remove(&(perm.to_owned(), object.to_owned()));
        }
        Ok(())
    }

    /// Grants `perm` on one object to every member of a group.
    pub fn grant_group_object(
        &self,
        group: &str,
        perm: &str,
        object: &str,
    ) -> Result<(), AdminError> {
        permission::validate(perm)?;
        let mut state = self.write();
        if !state.groups.contains_key(group) {
            return Err(AdminError::UnknownGroup(group.to_owned()));
        }
        state
            .group_objects
            .entry(group.to_owned())
            .or_default()
            .insert((perm.to_owned(), object.to_owned()));
        Ok(())
    }

    /// Takes an object permission away from a group.
    pub fn revoke_group_object(
        &self,
        group: &str,
        perm: &str,
        object: &str,
    ) -> Result<(), AdminError> {
        let mut state = self.write();
        if let Some(grants) = state.group_objects.get_mut(group) {
            grants.remove(&(perm.to_owned(), object.to_owned()));
        }
        Ok(())
    }

    /// The (permission, object) pairs the user holds, own and groups'.
    fn object_grants<'s>(state: &'s State, id: &str) -> impl Iterator<Item = &'s (String, String)> {
        let own = state.user_objects.get(id).into_iter().flatten();
        let groups = state
            .user_groups
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|group| state.group_objects.get(group))
            .flatten();
        own.chain(groups)
    }

    /// Creates an API token for a user: `name` (unique among theirs),
    /// `scopes` (permission names; what it may do is these ∩ what the user
    /// holds), expiring `expires_in` from now or never. The token is in
    /// the answer, and nowhere else (see [`crate::token`]).
    pub fn create_token<'s>(
        &self,
        username: &str,
        name: &str,
        scopes: impl IntoIterator<Item = &'s str>,
        expires_in: Option<Duration>,
    ) -> Result<NewToken, AdminError> {
        let checked = token::check_request(name, scopes, expires_in)?;
        let issued = token::issue();
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let id = state.id_of(username)?;
        let theirs = state.tokens.values().filter(|t| t.stored.user_id() == id);
        let mut count = 0;
        for held in theirs {
            if held.name == name {
                return Err(AdminError::DuplicateToken(name.to_owned()));
            }
            count += 1;
        }
        if count >= token::MAX_TOKENS_PER_USER {
            return Err(AdminError::InvalidToken(format!(
                "{username:?} holds {count} tokens, the most one may"
            )));
        }
        let stored = StoredToken::new(
            id,
            issued.digest,
            checked.scopes.iter().map(String::as_str).collect(),
            checked.expires,
            None,
        );
        let info = TokenInfo {
            name: name.to_owned(),
            prefix: issued.prefix.clone(),
            scopes: checked.scopes.clone(),
            created: checked.created,
            last_used: None,
            expires: checked.expires,
        };
        state.tokens.insert(
            issued.prefix,
            MemoryToken {
                name: name.to_owned(),
                scopes: checked.scopes,
                created: checked.created,
                stored: Arc::new(stored),
            },
        );
        Ok(NewToken::new(info, issued.token))
    }

    /// A user's tokens, by name.
    pub fn tokens(&self, username: &str) -> Result<Vec<TokenInfo>, AdminError> {
        let state = self.read();
        let id = state.id_of(username)?;
        let mut list: Vec<TokenInfo> = state
            .tokens
            .iter()
            .filter(|(_, t)| t.stored.user_id() == id)
            .map(|(prefix, t)| TokenInfo {
                name: t.name.clone(),
                prefix: prefix.clone(),
                scopes: t.scopes.clone(),
                created: t.created,
                last_used: t.stored.last_used(),
                expires: t.stored.expires(),
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    /// Changes what a user's token may use: its scopes become `scopes`,
    /// from the next request on. Its secret, expiry and name stay.
    pub fn set_token_scopes<'s>(
        &self,
        username: &str,
        name: &str,
        scopes: impl IntoIterator<Item = &'s str>,
    ) -> Result<(), AdminError> {
        let checked = token::check_request(name, scopes, None)?;
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let id = state.id_of(username)?;
        let held = state
            .tokens
            .values_mut()
            .find(|t| t.stored.user_id() == id && t.name == name)
            .ok_or_else(|| AdminError::UnknownToken(name.to_owned()))?;
        held.stored = Arc::new(held.stored.with_scopes(&checked.scopes));
        held.scopes = checked.scopes;
        Ok(())
    }

    /// Revokes (deletes) a user's token: it is refused from the next
    /// request on.
    pub fn revoke_token(&self, username: &str, name: &str) -> Result<(), AdminError> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let id = state.id_of(username)?;
        let before = state.tokens.len();
        state
            .tokens
            .retain(|_, t| !(t.stored.user_id() == id && t.name == name));
        if state.tokens.len() == before {
            return Err(AdminError::UnknownToken(name.to_owned()));
        }
        Ok(())
    }

    /// The user with this username, if any.
    pub fn user(&self, username: &str) -> Option<Arc<MemoryUser>> {
        let state = self.read();
        let id = state.ids_by_name.get(username)?;
        state.users.get(id).cloned()
    }

    fn permissions_of(&self, id: &str) -> Arc<PermissionSet> {
        if let Some(set) = self.read().effective.get(id) {
            return Arc::clone(set);
        }
        // Not `self.write()`: filling the cache is no change, so it must not
        // clear the other users' entries.
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let mut set = PermissionSet::new();
        if let Some(own) = state.user_perms.get(id) {
            set.extend(own.iter().map(String::as_str));
        }
        for group in state.user_groups.get(id).into_iter().flatten() {
            if let Some(perms) = state.groups.get(group) {
                set.extend(perms.iter().map(String::as_str));
            }
        }
        let set = Arc::new(set);
        state.effective.insert(id.to_owned(), Arc::clone(&set));
        set
    }
}

impl TokenStore for MemoryBackend {
    async fn token(&self, prefix: &str) -> Result<Option<Arc<StoredToken>>, BackendError> {
        Ok(self
            .read()
            .tokens
            .get(prefix)
            .map(|t| Arc::clone(&t.stored)))
    }
}

impl RecordStore for MemoryBackend {
    async fn record(&self, id: &str) -> Result<Option<Arc<SessionRecord>>, BackendError> {
        Ok(self.read().records.get(id).map(|r| Arc::clone(&r.stored)))
    }

    async fn open_record(
        &self,
        user_id: &str,
        device: &str,
        address: &str,
    ) -> Result<String, BackendError> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let now = SystemTime::now();
        let live: Vec<(SystemTime, String)> = state
            .records
            .iter()
            .filter(|(_, r)| r.stored.user_id() == user_id && r.ended.is_none())
            .map(|(key, r)| (r.stored.last_seen(), key.clone()))
            .collect();
        if live.len() >= records::MAX_SESSIONS_PER_USER
            && let Some((_, oldest)) = live.into_iter().min()
            && let Some(record) = state.records.get_mut(&oldest)
        {
            record.end(EndReason::TooMany, now);
        }
        // Ended sessions are kept a week, and the last 100 at most.
        let mut ended: Vec<(SystemTime, String)> = state
            .records
            .iter()
            .filter(|(_, r)| r.stored.user_id() == user_id)
            .filter_map(|(key, r)| r.ended.map(|(at, _)| (at, key.clone())))
            .collect();
        ended.sort_unstable_by(|a, b| b.cmp(a));
        for (n, (at, key)) in ended.into_iter().enumerate() {
            if n >= records::MAX_SESSIONS_PER_USER || at + records::ENDED_KEPT <= now {
                state.records.remove(&key);
            }
        }
        let id = records::new_id();
        let created = token::from_unix_secs(token::unix_secs(now));
        state.records.insert(
            id.clone(),
            MemoryRecord {
                device: device.to_owned(),
                address: address.to_owned(),
                created,
                ended: None,
                stored: Arc::new(SessionRecord::new(user_id.to_owned(), true, created)),
            },
        );
        Ok(id)
    }

    async fn close_record(&self, id: &str) -> Result<(), BackendError> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if state.records.get(id).is_some_and(|r| r.ended.is_none()) {
            state.records.remove(id);
        }
        Ok(())
    }

    /// The record itself holds it.
    async fn record_seen(&self, _id: &str, _at: SystemTime) {}
}

impl Authentication for MemoryBackend {
    async fn get_user(&self, id: &str) -> UserResult {
        let user = self.read().users.get(id).cloned();
        Ok(user.map(|u| u as Arc<dyn AuthUser>))
    }

    async fn authenticate(&self, username: &str, password: &str) -> UserResult {
        let user = self.user(username);
        let Some(user) = user else {
            password::verify_dummy_blocking(password).await;
            return Ok(None);
        };
        if !(password::verify_password_blocking(password, &user.password_hash).await && user.active)
        {
            return Ok(None);
        }
        if !password::needs_rehash(&user.password_hash) {
            return Ok(Some(user as Arc<dyn AuthUser>));
        }
        let hash = password::hash_password_blocking(password)
            .await
            .map_err(BackendError::new)?;
        let mut state = self.write();
        let Some(stored) = state.users.get_mut(user.id()) else {
            return Ok(None);
        };
        // Unless the password changed meanwhile.
        if stored.password_hash == user.password_hash {
            Arc::make_mut(stored).set_password_hash(hash);
        }
        Ok(Some(Arc::clone(stored) as Arc<dyn AuthUser>))
    }
}

impl Authorization for MemoryBackend {
    async fn user_permissions(&self, user: &dyn AuthUser) -> PermsResult {
        let set = self.permissions_of(user.id());
        Ok(set)
    }

    async fn object_permissions(&self, user: &dyn AuthUser, object: &str) -> PermsResult {
        let state = self.read();
        let set: PermissionSet = Self::object_grants(&state, user.id())
            .filter(|(_, on)| on == object)
            .map(|(perm, _)| perm.as_str())
            .collect();
        Ok(Arc::new(set))
    }

    async fn objects_with_permission(
        &self,
        user: &dyn AuthUser,
        perm: &str,
    ) -> Result<Vec<String>, BackendError> {
        let state = self.read();
        let mut ids: Vec<String> = Self::object_grants(&state, user.id())
            .filter(|(held, _)| held == perm)
            .map(|(_, object)| object.clone())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }
}

impl Introspection for MemoryBackend {
    /// A memory backend has no permission table: the permissions it defines
    /// are those granted to some user or group.
    async fn permission_sources(
        &self,
        user: &dyn AuthUser,
    ) -> Result<Option<Vec<PermissionSource>>, BackendError> {
        let state = self.read();
        let id = user.id();
        let mut sources: Vec<PermissionSource> = state
            .user_perms
            .get(id)
            .into_iter()
            .flatten()
            .map(|perm| PermissionSource {
                permission: perm.clone(),
                group: None,
            })
            .collect();
        for group in state.user_groups.get(id).into_iter().flatten() {
            for perm in state.groups.get(group).into_iter().flatten() {
                sources.push(PermissionSource {
                    permission: perm.clone(),
                    group: Some(group.clone()),
                });
            }
        }
        sources.sort();
        Ok(Some(sources))
    }

    async fn defined_permissions(&self) -> Result<Option<Vec<String>>, BackendError> {
        let state = self.read();
        let granted = state.user_perms.values().chain(state.groups.values());
        let mut defined: Vec<String> = granted.flatten().cloned().collect();
        defined.sort_unstable();
        defined.dedup();
        Ok(Some(defined))
    }
}
