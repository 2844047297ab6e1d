/* Two-factor page: TOTP enrolment, then the backup codes (shown once, each single use) and how many are left. */
(() => {
  'use strict';

  const { GET, POST, T, h, toast, act, onSubmit, session } = window.amarktai;

  function codesText(codes) {
    return ['Amarktai two-factor backup codes', `Account: ${(session.user || {}).email || ''}`,
      `Made: ${new Date().toISOString()}`, 'Each code works once, instead of a code from your authenticator app.', '',
      ...codes, ''].join('\n');
  }

  // The codes, this once: a list, copy and download. Nothing else ever shows them again.
  function showNewCodes(codes) {
    const box = T('2fa-backup-new');
    T('2fa-backup-list').replaceChildren(...codes.map((c) => h('li', { testid: '2fa-backup-code' }, c)));
    box.hidden = false;
    T('2fa-backup-copy').onclick = async () => {
      try {
        await navigator.clipboard.writeText(codes.join('\n'));
        toast('Backup codes copied.', 'success');
      } catch (e) {
        const range = document.createRange();
        range.selectNodeContents(T('2fa-backup-list'));
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        toast('Select-all done: press Ctrl+C (or ⌘C) to copy.', 'info');
      }
    };
    T('2fa-backup-download').onclick = () => {
      const url = URL.createObjectURL(new Blob([codesText(codes)], { type: 'text/plain' }));
      const a = h('a', { href: url, download: 'amarktai-backup-codes.txt' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    };
    box.scrollIntoView({ block: 'nearest' });
  }

  async function showRemaining() {
    const s = await GET('auth/2fa/backup-codes');
    const el = T('2fa-backup-remaining');
    el.dataset.remaining = String(s.remaining);
    el.textContent = s.total
      ? `${s.remaining} of ${s.total} backup codes left.${s.remaining <= 2 ? ' Make new ones soon.' : ''}`
      : 'No backup codes yet: make some, so losing your phone does not lock you out.';
    el.classList.toggle('warn-text', s.remaining <= 2);
  }

  window.amarktai.pages.two_factor = async () => {
    const me = (await GET('auth/me')).user;
    session.save({ user: me });
    const show = (enabled) => {
      T('2fa-enabled').hidden = !enabled;
      T('2fa-start').hidden = enabled;
      T('2fa-setup').hidden = true;
    };
    show(me.two_factor_enabled);
    if (me.two_factor_enabled) await showRemaining();
    if (!me.two_factor_enabled && new URLSearchParams(location.search).get('welcome')) {
      T('2fa-start').prepend(h('p', { class: 'ok-banner' }, `Welcome to Amarktai${me.first_name ? `, ${me.first_name}` : ''}! Secure your account before you trade.`),
        h('p', {}, h('a', { href: '/dashboard', testid: '2fa-skip' }, 'Skip for now and go to the dashboard')));
    }
    T('2fa-enroll').addEventListener('click', async (ev) => {
      const slot = T('2fa-enroll-error');
      await act(ev.currentTarget, slot, async () => {
        const res = await POST('auth/2fa/enroll');
        if (typeof res.qr_code === 'string' && res.qr_code.startsWith('data:image/')) T('2fa-qr').src = res.qr_code;
        T('2fa-secret').textContent = res.secret;
        T('2fa-start').hidden = true;
        T('2fa-setup').hidden = false;
        T('2fa-code').focus();
      });
    });
    onSubmit(T('2fa-verify-form'), async (data) => {
      const res = await POST('auth/2fa/verify', { totp_code: data.totp_code });
      session.save({ user: { two_factor_enabled: true } });
      show(true);
      if (Array.isArray(res.backup_codes)) showNewCodes(res.backup_codes);
      await showRemaining().catch(() => {});
      T('2fa-backup-new').after(h('p', {}, h('a', { class: 'btn btn-primary', href: '/dashboard', testid: '2fa-continue' }, 'Continue to dashboard')));
      toast('Two-factor authentication is on.', 'success');
    });
    onSubmit(T('2fa-backup-form'), async (data, form) => {
      const res = await POST('auth/2fa/backup-codes', { password: data.password });
      form.reset();
      showNewCodes(res.backup_codes);
      await showRemaining();
      toast('New backup codes made; the old ones no longer work.', 'success');
    });
  };
})();
