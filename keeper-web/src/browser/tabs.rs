//! The tabs of one session finding each other: a `BroadcastChannel` for their news, and the Web
//! Lock that makes exactly one of them the leader, or the [election](keeper_core::election)
//! where the page has no `navigator.locks`.
//!
//! The lock is held by returning a promise that stays pending from the lock's callback; the
//! browser frees it when the tab closes or crashes and grants it to the next tab in line, so a
//! new leader follows at once. A held lock keeps a page out of the back/forward cache, so the
//! leader gives it up on `pagehide` and `freeze` and asks again on `pageshow` and `resume`.

use alloc::rc::Weak;
use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Function, Promise, Reflect};
use keeper_core::election::{Election, Step};
use keeper_core::tabs::{Message, NAME_PREFIX};
use keeper_core::text::concat;
use wasm_bindgen::prelude::*;
use web_sys::{AbortController, BroadcastChannel, MessageEvent, Window};

use super::keeper::Shell;
use super::listen::Listeners;
use super::{handler, one_shot, prop, then_call};

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks`: the Web Locks API (web-sys has it only behind an unstable flag).
    type LockManager;

    #[wasm_bindgen(method)]
    fn request(this: &LockManager, name: &str, options: &JsValue, callback: &Function) -> Promise;
}

enum Leadership {
    Locks { locks: LockManager, lock: Lock },
    Election(Election),
}

enum Lock {
    Out,
    Waiting(AbortController),
    /// Held until this resolves the promise the lock's callback returned.
    Held(Function),
}

/// This tab's link to the other tabs of its session.
pub(crate) struct TabLink {
    name: String,
    channel: BroadcastChannel,
    _on_message: Listeners,
    leadership: Leadership,
}

impl TabLink {
    /// Opens the channel named after the session; `None` where there is no `BroadcastChannel`,
    /// and the keeper then works alone.
    pub(crate) fn open(window: &Window, session_key: &str, shell: Weak<Shell>) -> Option<TabLink> {
        if prop(window, "BroadcastChannel").is_undefined() {
            return None;
        }
        let name = concat(&[NAME_PREFIX, session_key]);
        let channel = BroadcastChannel::new(&name).ok()?;
        let mut on_message = Listeners::new(handler(move |event| {
            let data = event.unchecked_ref::<MessageEvent>().data();
            if let (Some(shell), Some(text)) = (shell.upgrade(), data.as_string())
                && let Some(message) = Message::decode(&text)
            {
                shell.hear(message);
            }
            JsValue::UNDEFINED
        }));
        on_message.on(&channel, "message");
        let locks = Some(prop(&prop(window, "navigator"), "locks")).filter(|l| l.is_object());
        let leadership = match locks {
            Some(locks) => Leadership::Locks { locks: locks.unchecked_into(), lock: Lock::Out },
            None => Leadership::Election(Election::new(
                (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64,
            )),
        };
        Some(TabLink { name, channel, _on_message: on_message, leadership })
    }

    pub(crate) fn post(&self, message: &Message) {
        let _ = self.channel.post_message(&message.encode().into());
    }

    /// Asks to lead: queues for the lock, or enters the election. Does nothing if already in.
    pub(crate) fn join(&mut self, now: u64, shell: &Weak<Shell>) -> Vec<Step> {
        match &mut self.leadership {
            Leadership::Election(election) => election.start(now),
            Leadership::Locks { lock: Lock::Out, locks } => {
                let Ok(controller) = AbortController::new() else { return Vec::new() };
                let options = empty_object();
                let _ = Reflect::set(&options, &"signal".into(), &controller.signal());
                let shell = shell.clone();
                let on_grant = one_shot(move |_| {
                    let mut release = None;
                    let held = Promise::new(&mut |resolve, _| release = Some(resolve));
                    if let Some(release) = release {
                        match shell.upgrade() {
                            Some(shell) => shell.lock_granted(release),
                            None => drop(release.call1(&JsValue::UNDEFINED, &JsValue::UNDEFINED)),
                        }
                    }
                    held.into()
                });
                let request = locks.request(&self.name, &options, &on_grant);
                // A request given up with its signal rejects: expected, and not worth a console
                // error.
                let _ = then_call(&request, &JsValue::UNDEFINED, &one_shot(|_| JsValue::UNDEFINED));
                self.leadership_lock(Lock::Waiting(controller));
                Vec::new()
            }
            Leadership::Locks { .. } => Vec::new(),
        }
    }

    fn leadership_lock(&mut self, to: Lock) {
        if let Leadership::Locks { lock, .. } = &mut self.leadership {
            *lock = to;
        }
    }

    /// The lock was granted: keep it (`true`), or say no if this tab left meanwhile.
    pub(crate) fn granted(&mut self, release: &Function) -> bool {
        match &self.leadership {
            Leadership::Locks { lock: Lock::Waiting(_), .. } => {
                self.leadership_lock(Lock::Held(release.clone()));
                true
            }
            _ => false,
        }
    }

    /// Gives up leading, or the place in line, so another tab leads.
    pub(crate) fn leave(&mut self) -> Vec<Step> {
        match &mut self.leadership {
            Leadership::Election(election) => election.stop(),
            Leadership::Locks { lock, .. } => match core::mem::replace(lock, Lock::Out) {
                Lock::Held(release) => {
                    let _ = release.call1(&JsValue::UNDEFINED, &JsValue::UNDEFINED);
                    alloc::vec![Step::Follow]
                }
                Lock::Waiting(controller) => {
                    controller.abort();
                    Vec::new()
                }
                Lock::Out => Vec::new(),
            },
        }
    }

    /// True once [`join`](Self::join) was called and not undone by [`leave`](Self::leave).
    pub(crate) fn joined(&self) -> bool {
        match &self.leadership {
            Leadership::Election(election) => election.next_wake().is_some(),
            Leadership::Locks { lock, .. } => !matches!(lock, Lock::Out),
        }
    }

    pub(crate) fn hear(&mut self, now: u64, ballot: keeper_core::election::Ballot) -> Vec<Step> {
        match &mut self.leadership {
            Leadership::Election(election) => election.hear(now, ballot),
            Leadership::Locks { .. } => Vec::new(),
        }
    }

    pub(crate) fn tick(&mut self, now: u64) -> Vec<Step> {
        match &mut self.leadership {
            Leadership::Election(election) => election.tick(now),
            Leadership::Locks { .. } => Vec::new(),
        }
    }

    pub(crate) fn next_wake(&self) -> Option<u64> {
        match &self.leadership {
            Leadership::Election(election) => election.next_wake(),
            Leadership::Locks { .. } => None,
        }
    }
}

/// `{}`, from the `JSON.parse` the package already imports.
fn empty_object() -> JsValue {
    js_sys::JSON::parse("{}").unwrap_or(JsValue::UNDEFINED)
}

impl Drop for TabLink {
    fn drop(&mut self) {
        let steps = self.leave();
        if let Some(Step::Say(ballot)) = steps.first() {
            self.post(&Message::Ballot(*ballot));
        }
        self.channel.close();
    }
}
