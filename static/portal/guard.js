// Loaded first and not deferred: every form of the portal is sent by its page's script (app.js onSubmit). A form
// submitted before those scripts have run (a quick click on a slow load) must not fall back to the browser's own
// submission, which would put its fields (a password) in the address and the server's logs. Page handlers still run.
// Such an early submission is not lost either: the form is marked, and app.js sends it through its handler as soon as
// the handler is bound (onSubmit).
document.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.target;
  if (form instanceof HTMLFormElement && !form.dataset.bound) form.dataset.pendingSubmit = '1';
}, true);
