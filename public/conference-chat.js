// @ts-check
// The Conference page's chat: the message log, the form (recipient: everyone or one participant, for a private
// message), and the unread count shown on the Chat button while the chat panel is closed.

import { el } from "/common.js";

/** @param {number} t ms since the epoch */
const time = (t) => new Date(t).toTimeString().slice(0, 5);

/**
 * @param {object} ui
 * @param {HTMLElement} ui.log the message log (role=log)
 * @param {HTMLFormElement} ui.form
 * @param {HTMLSelectElement} ui.recipient "" = everyone, else a login
 * @param {HTMLInputElement} ui.message
 * @param {HTMLButtonElement} ui.send
 * @param {HTMLElement} ui.unread the count inside the Chat button (hidden at 0)
 * @param {() => boolean} isOpen whether the chat panel is shown
 * @param {(text: string, to: string) => Promise<boolean>} send sends `text` to `to` ("" = everyone); false when it
 *   was not sent (the reason is shown by the caller)
 */
export function createChat(ui, isOpen, send) {
  let unread = 0;

  function renderUnread() {
    ui.unread.textContent = unread > 0 ? String(unread) : "";
    ui.unread.hidden = unread === 0;
    ui.unread.setAttribute("aria-label", `${unread} unread`);
  }

  /**
   * A line in the log.
   * @param {"system" | "in" | "out"} kind
   * @param {string} from the sender ("" for none)
   * @param {string} text
   * @param {string} [extraClass] "private" for a private message
   */
  function addLine(kind, from, text, extraClass = "") {
    const line = el("p", { className: `${kind} ${extraClass}`.trim() }, el("time", { textContent: time(Date.now()) }));
    if (from) line.append(el("span", { className: "from", textContent: from }), ": ");
    line.append(text);
    ui.log.append(line);
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  ui.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = ui.message.value;
    if (!text.trim()) return;
    const to = ui.recipient.value;
    ui.message.value = "";
    if (await send(text, to)) return;
    if (!ui.message.value) ui.message.value = text; // not sent: give the text back
  });
  renderUnread();

  return {
    addLine,
    /**
     * A message from someone else; counted as unread while the panel is closed.
     * @param {string} from
     * @param {string} text
     */
    received(from, text) {
      addLine("in", from, text);
      if (!isOpen()) {
        unread++;
        renderUnread();
      }
    },
    /** The panel was opened: everything is read. */
    opened() {
      unread = 0;
      renderUnread();
    },
    /**
     * The participants one can write to privately (the selection is kept while that login is there).
     * @param {string[]} logins
     */
    setRecipients(logins) {
      const selected = ui.recipient.value;
      const options = [el("option", { value: "", textContent: "Everyone" })];
      for (const login of logins) options.push(el("option", { value: login, textContent: `Only ${login}` }));
      ui.recipient.replaceChildren(...options);
      ui.recipient.value = logins.includes(selected) ? selected : "";
    },
    /** @param {boolean} enabled false while not in a room (or reconnecting) */
    setEnabled(enabled) {
      ui.message.disabled = !enabled;
      ui.send.disabled = !enabled;
      ui.recipient.disabled = !enabled;
    },
    /** The unread count shown on the Chat button. */
    unread: () => unread,
  };
}
