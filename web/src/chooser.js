// Several alerts under one point of the map (Enter at the cross, or a click): a small modal
// dialog lists their headlines as buttons, so each can be opened, not only the first. A native
// <dialog> shown modal: focus moves into it and stays there, Escape closes it (its `cancel`),
// and focus returns to what opened it (the map), as the alert panel does. Arrow keys move
// between the choices, Tab too.

import { t } from './i18n.js';
import { capText, el, severityBadge } from './list.js';

// alerts: [{id, properties}] (the store's features, in the map's order); onChoose(id, opener).
export function chooseAlert({ alerts, opener, onChoose }) {
  document.getElementById('alert-chooser')?.remove();
  let chosen = null;
  const choices = alerts.map((feature) =>
    el(
      'li',
      {},
      el(
        'button',
        { type: 'button', class: 'choice', 'data-alert': String(feature.properties.id), onclick: () => close(feature.properties.id) },
        severityBadge(feature.properties),
        ' ',
        capText('span', feature.properties, 'headline'),
      ),
    ),
  );
  const dialog = el(
    'dialog',
    { id: 'alert-chooser', class: 'chooser', 'aria-labelledby': 'alert-chooser-title' },
    el('h2', { id: 'alert-chooser-title' }, t('chooser.title', { count: alerts.length })),
    el('ul', { class: 'choices' }, choices),
    el('button', { type: 'button', class: 'close', onclick: () => close(null) }, t('chooser.close')),
  );
  const buttons = () => [...dialog.querySelectorAll('button.choice')];
  dialog.addEventListener('keydown', (event) => {
    if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(event.key)) return;
    const list = buttons();
    const at = list.indexOf(document.activeElement);
    if (at < 0) return;
    event.preventDefault();
    const next = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: list.length - 1 }[event.key];
    list[(next + list.length) % list.length].focus();
  });
  // Escape (the dialog's cancel), a choice or the close button: the dialog goes, focus returns.
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (chosen !== null) onChoose(chosen, opener);
    else opener?.focus?.();
  });
  function close(id) {
    chosen = id;
    dialog.close();
  }
  document.body.append(dialog);
  dialog.showModal();
  buttons()[0]?.focus();
  return dialog;
}
