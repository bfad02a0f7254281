// The public receipt checker, run in the reader's own browser: nothing about the receipt
// or the Rahdari number leaves it, except asking the log for its latest signed tree head
// and a consistency proof (which say nothing about the receipt but its tree size).
//
// The receipt (rahdari/ledger/entries.py, Receipt.encode): dot-separated fields,
// binary ones base64url without padding:
// 1.entry.index.proof.tree_size.timestamp_ms.root.signature.key_id[.salt]
// The Merkle checks are exact ports of rahdari/ledger/merkle.py (RFC 9162 §2.1.3.2 and
// §2.1.4.2), with BigInt so that sizes past 2^31 work. All words come from the page
// (json_script), in the reader's language.
(function () {
  "use strict";

  const HASH_SIZE = 32;
  const SALT_SIZE = 32;
  const MAX_INT = 2 ** 53;

  // --- bytes and encodings ----------------------------------------------------------

  function fromBinary(binary) {
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) { out[i] = binary.charCodeAt(i); }
    return out;
  }

  function unb64url(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
      throw new Error("not base64url");
    }
    const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    return fromBinary(atob(padded));
  }

  function unb64(text) {
    if (typeof text !== "string" || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
      throw new Error("not base64");
    }
    return fromBinary(atob(text));
  }

  function b64(bytes) {
    let binary = "";
    for (const byte of bytes) { binary += String.fromCharCode(byte); }
    return btoa(binary);
  }

  function hex(bytes) {
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
    let at = 0;
    for (const part of parts) { out.set(part, at); at += part.length; }
    return out;
  }

  function equal(a, b) {
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) { return false; }
    let diff = 0;
    for (let i = 0; i < a.length; i += 1) { diff |= a[i] ^ b[i]; }
    return diff === 0;
  }

  function isHash(value) {
    return value instanceof Uint8Array && value.length === HASH_SIZE;
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  // --- RFC 9162 (merkle.py) ---------------------------------------------------------

  function leafHash(entry) {
    return sha256(concat(Uint8Array.of(0), entry));
  }

  function nodeHash(left, right) {
    return sha256(concat(Uint8Array.of(1), left, right));
  }

  function validSize(value) {
    return typeof value === "bigint" && value >= 0n;
  }

  // merkle.verify_inclusion: does `proof` show leaf `index` with `leaf` under `root`?
  async function verifyInclusion(leaf, index, treeSize, proof, root) {
    if (!Array.isArray(proof)) { return false; }
    if (!(validSize(index) && validSize(treeSize) && index < treeSize)) { return false; }
    if (!(isHash(leaf) && isHash(root) && proof.every(isHash))) { return false; }
    let fn = index;
    let sn = treeSize - 1n;
    let r = leaf;
    for (const p of proof) {
      if (sn === 0n) { return false; }
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(p, r);
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return sn === 0n && equal(r, root);
  }

  // merkle.verify_consistency: is the tree of `oldSize` with `oldRoot` a prefix of the new one?
  async function verifyConsistency(oldSize, newSize, oldRoot, newRoot, proofIn) {
    if (!Array.isArray(proofIn)) { return false; }
    const proof = proofIn.slice();
    if (!(validSize(oldSize) && validSize(newSize) && oldSize > 0n && oldSize <= newSize)) { return false; }
    if (oldSize === newSize) {
      return proof.length === 0 && oldRoot instanceof Uint8Array && equal(oldRoot, newRoot);
    }
    if (!(isHash(oldRoot) && isHash(newRoot) && proof.every(isHash))) { return false; }
    if (proof.length === 0) { return false; }
    if ((oldSize & (oldSize - 1n)) === 0n) { proof.unshift(oldRoot); }
    let fn = oldSize - 1n;
    let sn = newSize - 1n;
    while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
    let fr = proof[0];
    let sr = proof[0];
    for (const c of proof.slice(1)) {
      if (sn === 0n) { return false; }
      if ((fn & 1n) === 1n || fn === sn) {
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return equal(fr, oldRoot) && equal(sr, newRoot) && sn === 0n;
  }

  // --- signed tree heads (RFC 6962 §3.5 TreeHeadSignature, Ed25519) -------------------

  function treeHeadMessage(head) {
    const message = new Uint8Array(2 + 8 + 8 + HASH_SIZE);
    const view = new DataView(message.buffer);
    message[0] = 0; // version v1
    message[1] = 1; // signature type tree_hash
    view.setBigUint64(2, head.timestamp);
    view.setBigUint64(10, head.treeSize);
    message.set(head.root, 18);
    return message;
  }

  const importedKeys = new Map();

  async function verifyHead(head, keys) {
    const raw = keys.get(head.keyId);
    if (!raw || raw.length !== 32 || !isHash(head.root)) { return false; }
    if (head.timestamp >= 2n ** 64n || head.treeSize >= 2n ** 64n) { return false; }
    try {
      let key = importedKeys.get(head.keyId);
      if (!key) {
        key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
        importedKeys.set(head.keyId, key);
      }
      return await crypto.subtle.verify({ name: "Ed25519" }, key, head.signature, treeHeadMessage(head));
    } catch (error) {
      return false;
    }
  }

  // --- entries (entries.py: check_entry, canonical form) ------------------------------

  const PAYMENT_FIELDS = {
    program: "string", cycle: "string", district: "string", payment: "string",
    channel: "string", amount: "integer", beneficiary: "string",
  };
  const KINDS = {
    "programs.enrolment_approved": { program: "string", run: "string", period: "string", totals: "list" },
    "payments.cycle_approved": { program: "string", cycle: "string", totals: "list" },
    "payments.instructed": PAYMENT_FIELDS,
    "payments.paid": PAYMENT_FIELDS,
    "payments.failed": PAYMENT_FIELDS,
    "payments.returned": PAYMENT_FIELDS,
    "payments.unclaimed": PAYMENT_FIELDS,
    "payments.reversed": PAYMENT_FIELDS,
  };

  function isInteger(value) {
    return typeof value === "number" && Number.isInteger(value) && Math.abs(value) < MAX_INT;
  }

  function hasType(value, type) {
    if (type === "string") { return typeof value === "string"; }
    if (type === "integer") { return isInteger(value); }
    return Array.isArray(value);
  }

  function sameKeys(object, names) {
    const keys = Object.keys(object);
    return keys.length === names.length && names.every((name) => Object.prototype.hasOwnProperty.call(object, name));
  }

  function totalsOk(totals) {
    const seen = new Set();
    for (const row of totals) {
      if (!row || typeof row !== "object" || Array.isArray(row) || !sameKeys(row, ["district", "count", "amount"])) { return false; }
      if (typeof row.district !== "string" || !isInteger(row.count) || !isInteger(row.amount)) { return false; }
      if (row.count < 0 || row.amount < 0 || seen.has(row.district)) { return false; }
      seen.add(row.district);
    }
    return true;
  }

  // Sorted keys, no whitespace: the bytes Python's json.dumps(sort_keys=True,
  // separators=(",", ":"), ensure_ascii=False) writes for the same value.
  function canonical(value) {
    if (value === null || typeof value === "boolean" || typeof value === "string") { return JSON.stringify(value); }
    if (typeof value === "number") {
      if (!isInteger(value)) { throw new Error("not an integer"); }
      return String(value);
    }
    if (Array.isArray(value)) { return "[" + value.map(canonical).join(",") + "]"; }
    const keys = Object.keys(value).sort();
    return "{" + keys.map((key) => JSON.stringify(key) + ":" + canonical(value[key])).join(",") + "}";
  }

  // The checked entry, or null when the log would refuse it.
  function checkEntry(text) {
    let entry;
    try { entry = JSON.parse(text); } catch (error) { return null; }
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) { return null; }
    const schema = KINDS[entry.kind];
    if (!schema || !Object.prototype.hasOwnProperty.call(KINDS, entry.kind)) { return null; }
    if (!sameKeys(entry, ["v", "id", "kind", "at", ...Object.keys(schema)])) { return null; }
    if (entry.v !== 1) { return null; }
    if (typeof entry.id !== "string" || !/^[0-9a-f]{32}$/.test(entry.id)) { return null; }
    if (typeof entry.at !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(entry.at)) { return null; }
    for (const [name, type] of Object.entries(schema)) {
      if (!hasType(entry[name], type)) { return null; }
    }
    if ("amount" in schema && entry.amount <= 0) { return null; }
    if ("beneficiary" in schema && !/^[0-9a-f]{64}$/.test(entry.beneficiary)) { return null; }
    if ("totals" in schema && !totalsOk(entry.totals)) { return null; }
    try {
      if (canonical(entry) !== text) { return null; }
    } catch (error) {
      return null;
    }
    return entry;
  }

  // --- the receipt ----------------------------------------------------------------

  function safeInteger(value) {
    if (!Number.isSafeInteger(value) || value < 0) { throw new Error("not a size"); }
    return BigInt(value);
  }

  const NATURAL = /^(0|[1-9][0-9]{0,15})$/;
  const KEY_ID = /^[0-9a-f]{16}$/;

  function decodeReceipt(text) {
    const fields = String(text).split(".");
    if ((fields.length !== 9 && fields.length !== 10) || fields[0] !== "1") { throw new Error("version"); }
    const [, entryField, index, proofField, size, timestamp, root, signature, keyId, saltField] = fields;
    if (![index, size, timestamp].every((value) => NATURAL.test(value)) || !KEY_ID.test(keyId)) { throw new Error("fields"); }
    const entry = unb64url(entryField);
    const entryText = new TextDecoder("utf-8", { fatal: true }).decode(entry);
    const proofBytes = unb64url(proofField);
    if (proofBytes.length % HASH_SIZE) { throw new Error("proof"); }
    const proof = [];
    for (let at = 0; at < proofBytes.length; at += HASH_SIZE) { proof.push(proofBytes.slice(at, at + HASH_SIZE)); }
    let salt = null;
    if (saltField !== undefined) {
      salt = unb64url(saltField);
      if (salt.length !== SALT_SIZE) { throw new Error("salt"); }
    }
    const head = {
      treeSize: safeInteger(Number(size)),
      timestamp: safeInteger(Number(timestamp)),
      root: unb64url(root),
      signature: unb64url(signature),
      keyId: keyId,
    };
    if (head.root.length !== HASH_SIZE || head.signature.length !== 64) { throw new Error("head"); }
    return { entryText: entryText, entry: entry, index: safeInteger(Number(index)), proof: proof, salt: salt, head: head };
  }

  function receiptText(text) {
    let value = String(text || "").trim();
    const at = value.indexOf("#r=");
    if (at >= 0) { value = value.slice(at + 3); }
    return value.replace(/\s+/g, "");
  }

  const LOCAL_DIGITS = "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩";

  // views.normalise_number: groups of four, dashes and Urdu digits as the log committed.
  function normaliseNumber(number) {
    return Array.from(number, (c) => {
      const at = LOCAL_DIGITS.indexOf(c);
      return at >= 0 ? String(at % 10) : c;
    }).join("").replace(/[\s-]/g, "");
  }

  async function commitment(number, salt) {
    const key = await crypto.subtle.importKey("raw", salt, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return hex(new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(number))));
  }

  // --- the log today -----------------------------------------------------------------

  async function fetchJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "omit" });
    if (!response.ok) { throw new Error("HTTP " + response.status); }
    return response.json();
  }

  function headFromJson(data) {
    return {
      treeSize: safeInteger(data.tree_size),
      timestamp: safeInteger(data.timestamp),
      root: unb64(data.sha256_root_hash),
      signature: unb64(data.tree_head_signature),
      keyId: String(data.key_id),
    };
  }

  // "pass" with the latest size, "fail", or "offline" when the log could not be asked.
  async function checkLog(head, keys, config) {
    let latest;
    try {
      latest = headFromJson(await fetchJson(config.sth_url));
    } catch (error) {
      return { status: error instanceof TypeError ? "offline" : "fail" };
    }
    if (!(await verifyHead(latest, keys)) || head.treeSize > latest.treeSize || head.treeSize === 0n) {
      return { status: "fail" };
    }
    let proof = [];
    if (head.treeSize !== latest.treeSize) {
      const query = "?first=" + head.treeSize + "&second=" + latest.treeSize;
      try {
        proof = (await fetchJson(config.consistency_url + query)).consistency.map(unb64);
      } catch (error) {
        return { status: error instanceof TypeError ? "offline" : "fail" };
      }
    }
    const ok = await verifyConsistency(head.treeSize, latest.treeSize, head.root, latest.root, proof);
    return { status: ok ? "pass" : "fail", size: latest.treeSize };
  }

  // --- words ---------------------------------------------------------------------------

  function formatNumber(value, config) {
    const digits = String(value).replace("-", "");
    const sizes = config.number.grouping;
    const groups = [];
    let rest = digits;
    let i = 0;
    while (rest.length) {
      const size = sizes[Math.min(i, sizes.length - 1)];
      if (!size || size <= 0) { groups.unshift(rest); break; }
      groups.unshift(rest.slice(-size));
      rest = rest.slice(0, -size);
      i += 1;
    }
    return (String(value).startsWith("-") ? "-" : "") + groups.join(config.number.separator);
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, (match, name) => (name in values ? String(values[name]) : match));
  }

  function rupees(amount, config) {
    return fill(config.rupees, { amount: formatNumber(amount, config) });
  }

  function dateText(date, config) {
    try {
      return new Intl.DateTimeFormat(config.language, { dateStyle: "medium", timeStyle: "short", numberingSystem: "latn" }).format(date);
    } catch (error) {
      return date.toISOString();
    }
  }

  // receipts.entry_facts, the same lines in the same order.
  function entryFacts(entry, config) {
    const labels = config.labels;
    const facts = [{ key: "kind", label: labels.kind, value: config.kinds[entry.kind] || entry.kind }];
    const add = (key, value, ltr) => facts.push({ key: key, label: labels[key], value: value, ltr: Boolean(ltr) });
    if ("payment" in entry) {
      add("amount", rupees(entry.amount, config));
      add("program", entry.program, true);
      add("cycle", entry.cycle, true);
      add("district", config.districts[entry.district] || entry.district);
      add("channel", config.channels[entry.channel] || entry.channel);
      add("payment", entry.payment, true);
    } else if ("totals" in entry) {
      add("amount", rupees(entry.totals.reduce((n, row) => n + row.amount, 0), config));
      add("program", entry.program, true);
      if ("cycle" in entry) {
        add("cycle", entry.cycle, true);
      } else {
        add("run", entry.run, true);
        add("period", entry.period, true);
      }
      add("districts", formatNumber(entry.totals.length, config));
      add("run" in entry ? "people" : "count", formatNumber(entry.totals.reduce((n, row) => n + row.count, 0), config));
    }
    add("at", dateText(new Date(entry.at), config));
    return facts;
  }

  // --- the checks ----------------------------------------------------------------------

  function line(config, name, status, message, values) {
    const texts = config.checks[name];
    return { name: name, status: status, title: texts.title, text: fill(texts[message || status], values || {}) };
  }

  async function runChecks(receipt, number, config, keys) {
    const lines = [];
    const entry = checkEntry(receipt.entryText);
    lines.push(line(config, "entry", entry ? "pass" : "fail"));
    const leaf = await leafHash(receipt.entry);
    lines.push(line(config, "leaf", "pass", "", { hash: b64(leaf) }));
    const included = await verifyInclusion(leaf, receipt.index, receipt.head.treeSize, receipt.proof, receipt.head.root);
    lines.push(line(config, "inclusion", included ? "pass" : "fail"));
    const signed = await verifyHead(receipt.head, keys);
    lines.push(line(config, "signature", signed ? "pass" : "fail", "", { key: receipt.head.keyId }));
    const log = await checkLog(receipt.head, keys, config);
    if (log.status === "offline") {
      lines.push(line(config, "log", "fail", "offline"));
    } else {
      lines.push(line(config, "log", log.status, "", { size: log.size === undefined ? "" : formatNumber(log.size, config) }));
    }
    if (!number) {
      lines.push(line(config, "commitment", "skip", receipt.salt ? "skip" : "public"));
    } else if (!receipt.salt || !entry || !("beneficiary" in entry)) {
      lines.push(line(config, "commitment", "fail", "public"));
    } else {
      const code = await commitment(normaliseNumber(number), receipt.salt);
      lines.push(line(config, "commitment", code === entry.beneficiary ? "pass" : "fail"));
    }
    return { entry: entry, lines: lines };
  }

  // --- the page ------------------------------------------------------------------------

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) { node.setAttribute(name, value); }
    for (const child of children) { node.append(child); }
    return node;
  }

  function definitions(rows, className) {
    const list = element("dl", { class: className });
    for (const row of rows) {
      let content = row.value;
      if (row.code) {
        content = element("code", { class: "ledger-hash" }, row.value);
      } else if (row.ltr) {
        content = element("bdi", { dir: "ltr" }, row.value);
      }
      const value = element("dd", row.key ? { "data-fact": row.key } : {}, content);
      list.append(element("dt", {}, row.label), value);
    }
    return list;
  }

  function show(section, config, receipt, result) {
    const strings = config.strings;
    const failed = result.lines.filter((l) => l.status === "fail");
    const ok = failed.length === 0;
    const payment = result.entry && "payment" in result.entry;
    section.classList.remove("verify-ok", "verify-bad");
    section.classList.add(ok ? "verify-ok" : "verify-bad");
    const verdict = ok ? (payment ? strings.ok_payment : strings.ok_entry) : strings.bad;
    const parts = [element("p", { class: "verify-verdict", id: "ledger-verdict", "data-verdict": ok ? "ok" : "bad" }, verdict)];
    if (!ok) {
      const names = failed.map((l) => l.title).join(strings.list_separator);
      parts.push(element("p", { class: "verify-message", "data-failed": "" }, fill(strings.failed, { checks: names })));
    }
    if (result.entry) {
      const facts = entryFacts(result.entry, config);
      parts.push(definitions(facts, "person-card ledger-card"));
      parts[parts.length - 1].setAttribute("data-facts", "");
    }
    parts.push(element("h2", { id: "ledger-checks-title" }, strings.checks));
    const list = element("ol", { class: "ledger-checks", "aria-labelledby": "ledger-checks-title" });
    for (const l of result.lines) {
      const mark = l.status === "pass" ? "✓" : l.status === "fail" ? "✗" : "–";
      list.append(element("li", { "data-check": l.name, "data-status": l.status },
        element("span", { class: "ledger-mark", "aria-hidden": "true" }, mark), " ",
        element("strong", {}, l.title), " ",
        element("span", { class: "ledger-outcome" }, strings[l.status]),
        element("br"),
        element("span", { class: "ledger-detail" }, l.text)));
    }
    parts.push(list);
    const head = receipt.head;
    const signedAt = head.timestamp < BigInt(MAX_INT) ? dateText(new Date(Number(head.timestamp)), config) : "";
    parts.push(definitions([
      { label: strings.index, value: formatNumber(receipt.index, config) },
      { label: strings.tree_size, value: formatNumber(head.treeSize, config) },
      { label: strings.signed_at, value: signedAt },
      { label: strings.root_hash, value: b64(head.root), code: true },
      { label: strings.key_id, value: head.keyId, code: true },
    ], "person-card ledger-head"));
    section.replaceChildren(...parts);
    section.hidden = false;
  }

  function showNotReceipt(section, form, config) {
    section.hidden = true;
    section.replaceChildren();
    const field = form.querySelector("#id_receipt");
    const box = field ? field.closest(".field") : null;
    if (!box) { return; }
    let alert = box.querySelector("[data-js-error]");
    if (!alert) {
      alert = element("div", { role: "alert", "data-js-error": "" });
      box.append(alert);
    }
    alert.replaceChildren(element("ul", { class: "errorlist", id: "id_receipt_error" }, element("li", {}, config.strings.not_receipt)));
    box.classList.add("field-error");
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", "id_receipt_helptext id_receipt_error");
    field.focus();
  }

  function clearError(form) {
    const field = form.querySelector("#id_receipt");
    const box = field ? field.closest(".field") : null;
    if (!box) { return; }
    box.querySelectorAll("[data-js-error]").forEach((node) => node.remove());
    box.classList.remove("field-error");
    field.removeAttribute("aria-invalid");
    field.setAttribute("aria-describedby", "id_receipt_helptext");
  }

  function start() {
    const configNode = document.getElementById("ledger-verify-config");
    const form = document.getElementById("ledger-form");
    const section = document.getElementById("ledger-result");
    const progress = document.getElementById("ledger-progress");
    if (!configNode || !form || !section) { return; }
    const config = JSON.parse(configNode.textContent);
    if (!(window.crypto && crypto.subtle && window.fetch && typeof BigInt === "function")) {
      // An old browser, or a page not served over HTTPS: the form posts, the server checks.
      if (progress) { progress.textContent = config.strings.no_crypto; }
      return;
    }
    const keys = new Map();
    for (const key of config.keys) {
      try { keys.set(key.key_id, unb64(key.public_key)); } catch (error) { /* not a key */ }
    }
    let running = 0;

    async function check(text, number, focus) {
      const run = ++running;
      clearError(form);
      let receipt;
      try {
        receipt = decodeReceipt(receiptText(text));
      } catch (error) {
        if (progress) { progress.textContent = ""; }
        showNotReceipt(section, form, config);
        return;
      }
      if (progress) { progress.textContent = config.strings.checking; }
      const result = await runChecks(receipt, number, config, keys);
      if (run !== running) { return; } // a newer check started meanwhile
      show(section, config, receipt, result);
      if (progress) { progress.textContent = ""; }
      if (focus) { section.focus(); }
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault(); // checked here: the number never leaves the browser
      const number = form.elements.namedItem("rahdari_number");
      check(form.elements.namedItem("receipt").value, number ? number.value.trim() : "", true);
    });

    function fromLocation() {
      const hash = window.location.hash;
      if (!hash.startsWith("#r=")) { return; }
      let text = hash.slice(3);
      try { text = decodeURIComponent(text); } catch (error) { /* checked as it is */ }
      form.elements.namedItem("receipt").value = text;
      const number = form.elements.namedItem("rahdari_number");
      check(text, number ? number.value.trim() : "", true);
    }
    window.addEventListener("hashchange", fromLocation);
    fromLocation();
  }

  // For the browser tests of the ports against merkle.py.
  window.rahdariLedger = Object.freeze({ verifyInclusion, verifyConsistency, checkEntry, decodeReceipt });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
