// The sign-in form: username and password against the stack's user pool (auth.js). Cognito's
// refusals are shown as Cognito states them ("NotAuthorizedException: Incorrect username or
// password."); a challenge (a new password on first sign-in, an MFA code) adds one field and
// says why. The form also comes back when the APIs refuse the token (401) or it cannot be renewed.
import { $ } from "../dom.js";
import { CHALLENGES, ChallengeRequired } from "../auth.js";

export class LoginForm {
  constructor({ auth }) {
    this.auth = auth;
    this.challenge = null;
    this.waiting = null;
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this._submit();
    });
  }

  /** Show the form; resolves with the session once a user has signed in. */
  show(reason, username) {
    document.body.dataset.auth = "out";
    $("login").hidden = false;
    const note = $("login-reason");
    note.textContent = reason || "";
    note.hidden = !reason;
    if (username) $("login-username").value = username;
    this._challenge(null);
    this._error(null);
    $(username ? "login-password" : "login-username").focus();
    if (!this.waiting) {
      this.waiting = {};
      this.waiting.promise = new Promise((resolve) => {
        this.waiting.resolve = resolve;
      });
    }
    return this.waiting.promise;
  }

  hide() {
    $("login").hidden = true;
    document.body.dataset.auth = "in";
  }

  async _submit() {
    const button = $("login-submit");
    button.disabled = true;
    this._error(null);
    try {
      const session = this.challenge
        ? await this.auth.respond(this.challenge, $("login-challenge-value").value)
        : await this.auth.login($("login-username").value.trim(), $("login-password").value);
      $("login-password").value = "";
      this._challenge(null);
      this.hide();
      const waiting = this.waiting;
      this.waiting = null;
      waiting?.resolve(session);
    } catch (error) {
      if (error instanceof ChallengeRequired && error.supported) this._challenge(error);
      else this._error(error.message);
    } finally {
      button.disabled = false;
    }
  }

  _challenge(challenge) {
    this.challenge = challenge;
    const box = $("login-challenge");
    box.hidden = !challenge;
    $("login-password").disabled = Boolean(challenge);
    const input = $("login-challenge-value");
    input.value = "";
    input.required = Boolean(challenge);
    if (!challenge) return;
    const spec = CHALLENGES[challenge.challenge];
    $("login-challenge-text").textContent = challenge.message;
    $("login-challenge-label").textContent = spec.label;
    input.type = spec.input;
    input.autocomplete = spec.input === "password" ? "new-password" : "one-time-code";
    input.focus();
  }

  _error(text) {
    const error = $("login-error");
    error.textContent = text || "";
    error.hidden = !text;
  }
}
