/* storyreel studio: the little script the pages need. Plain JS, no build step, no third-party code.
 * - api(): fetch JSON, errors as one line ({"error": ...}) shown in a toast or banner, never a stack trace;
 * - [data-api] buttons and the page's forms call the REST API, then reload (or go to a new branch);
 * - an edit of a locked stage offers "create a branch and edit there";
 * - live run progress over server-sent events; the screenplay editor's throttled autosave. */
(() => {
  "use strict";
  const $ = (s, el = document) => el.querySelector(s);
  const $$ = (s, el = document) => [...el.querySelectorAll(s)];
  const root = () => $("#project");
  const projectName = () => (root() ? root().dataset.project : null);
  const tabName = () => (root() ? root().dataset.tab : null);

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error) || `the server answered ${status}`);
      this.status = status;
      this.kind = body && body.kind;
      this.stage = body && body.stage;
    }
  }

  async function api(method, url, body) {
    const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch (e) {
      throw new ApiError(0, { error: "the studio cannot be reached: is the server still running?" });
    }
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }

  // --- messages ---------------------------------------------------------------------------------------------
  const sentence = (m) => (m ? m.charAt(0).toUpperCase() + m.slice(1) : m);

  function toast(message, kind = "ok", ms = 5000) {
    const box = $("#toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = `toast ${kind}`;
    el.textContent = sentence(message);
    box.appendChild(el);
    setTimeout(() => el.remove(), kind === "bad" ? ms * 2 : ms);
  }

  function banner(message, actions = [], kind = "warn") {
    const el = $("#banner");
    el.replaceChildren();
    el.className = `banner ${kind}`;
    const p = document.createElement("p");
    p.textContent = sentence(message);
    el.appendChild(p);
    const row = document.createElement("div");
    row.className = "banner-actions";
    for (const a of actions) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = `btn small ${a.primary ? "primary" : ""}`;
      b.textContent = a.label;
      b.addEventListener("click", a.run);
      row.appendChild(b);
    }
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn small ghost";
    close.textContent = "Dismiss";
    close.addEventListener("click", hideBanner);
    row.appendChild(close);
    el.appendChild(row);
    el.hidden = false;
  }
  const hideBanner = () => { $("#banner").hidden = true; };

  function flash(message) { sessionStorage.setItem("storyreel-flash", message); }
  function showFlash() {
    const m = sessionStorage.getItem("storyreel-flash");
    if (m) { sessionStorage.removeItem("storyreel-flash"); toast(m); }
  }

  const withBranch = (url) => url + (url.includes("?") ? "&" : "?") + "branch=true";
  const goTo = (project) => { location.href = `/p/${encodeURIComponent(project)}/${tabName() || ""}`; };

  // After a change: follow a new branch, or reload to show the new state.
  function after(result, done) {
    if (done) flash(done);
    const cur = projectName();
    if (result && result.project && cur && result.project !== cur) {
      flash(`${done ? done + " — " : ""}now on branch ${result.project}`);
      goTo(result.project);
    } else if (result && result.url && !cur) location.href = result.url;
    else location.reload();
  }

  function failed(e, retry) {
    if (e.kind === "locked" && retry) {
      banner(e.message, [{
        label: "Create a branch and edit there", primary: true,
        run: async () => {
          hideBanner();
          try { await retry(); } catch (e2) { toast(e2.message, "bad"); }
        },
      }]);
    } else toast(e.message, "bad");
  }

  // Call the API; on success reload or follow the branch; on a locked stage offer a branch.
  async function act(method, url, body, done) {
    try {
      after(await api(method, url, body), done);
    } catch (e) {
      failed(e, () => api(method, withBranch(url), body).then((r) => after(r, done)));
    }
  }

  // --- declarative buttons: data-api="METHOD /url" data-body='{...}' data-confirm data-done ------------------
  document.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("[data-api]");
    if (!btn || btn.disabled) return;
    ev.preventDefault();
    if (btn.dataset.confirm && !window.confirm(btn.dataset.confirm)) return;
    const [method, url] = btn.dataset.api.split(" ");
    const body = btn.dataset.body ? JSON.parse(btn.dataset.body) : undefined;
    btn.disabled = true;
    try { await act(method, url, body, btn.dataset.done); } finally { btn.disabled = false; }
  });

  function onSubmit(selector, handler) {
    for (const form of $$(selector)) {
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const button = $("button[type=submit]", form);
        if (button) button.disabled = true;
        try { await handler(form); } catch (e) { toast(e.message, "bad"); } finally { if (button) button.disabled = false; }
      });
    }
  }

  // --- dashboard --------------------------------------------------------------------------------------------
  function initDashboard() {
    for (const seg of $$(".segmented .seg")) {
      seg.addEventListener("click", () => {
        for (const other of $$(".segmented .seg")) {
          other.setAttribute("aria-selected", other === seg ? "true" : "false");
          $(`#${other.dataset.show}`).hidden = other !== seg;
        }
      });
    }
    onSubmit(".js-create", async (form) => {
      let result;
      if (form.dataset.kind === "json") {
        const f = new FormData(form);
        const duration = f.get("duration");
        result = await api("POST", form.dataset.endpoint, {
          prompt: f.get("prompt") || "", name: f.get("name") || null, aspect: f.get("aspect") || "16:9",
          duration: duration ? Number(duration) : null, style: f.get("style") || "", rules: f.get("rules") || "",
          folder: f.get("folder") || "", start: f.get("start") === "on",
        });
      } else {
        const f = new FormData(form);
        for (const [k, v] of [...f.entries()]) if (v instanceof File && !v.name) f.delete(k);
        if (f.get("start") === "on") f.set("start", "true");
        result = await api("POST", form.dataset.endpoint, f);
      }
      flash(`Project ${result.project} created`);
      location.href = result.url;
    });
    onSubmit(".js-folder", async (form) => {
      const folder = new FormData(form).get("folder") || "";
      await api("PUT", `/api/projects/${encodeURIComponent(form.dataset.project)}/folder`, { folder });
      flash(folder ? `Moved to ${folder}` : "Moved out of its folder");
      location.reload();
    });
  }

  // --- live run ---------------------------------------------------------------------------------------------
  let source = null;
  const loadedVersion = () => Number(root().dataset.version);

  function iconFor(state) {
    const svg = $(`.legend [data-state="${state}"] svg`);
    return svg ? svg.cloneNode(true) : document.createElement("span");
  }

  function chipFor(state, word) {
    const chip = document.createElement("span");
    chip.className = `chip st-${state}`;
    chip.dataset.state = state;
    chip.append(iconFor(state));
    const w = document.createElement("span");
    w.className = "chip-word";
    w.textContent = word;
    chip.append(w);
    return chip;
  }

  function render(snap) {
    $("#progress").value = snap.progress;
    $("#progress-text").textContent = `${Math.round(snap.progress)}% · ${snap.done}/${snap.total} steps`;
    $("#position").textContent = snap.position;
    const chip = $("#run-chip");
    chip.replaceChildren();
    if (snap.active) chip.append(chipFor("running", snap.queued ? "Queued" : "Running"));
    else if (snap.failed.length) chip.append(chipFor("failed", "Failed"));
    $("#run-btn").hidden = snap.active;
    $("#stop-btn").hidden = !snap.active;
    const msg = $("#run-message");
    msg.classList.toggle("bad", Boolean(snap.run && snap.run.state === "failed"));
    if (snap.running_nodes.length) msg.textContent = `Working on ${snap.running_nodes.slice(0, 3).join(", ")}`;
    else if (snap.queued) msg.textContent = "Waiting for another project's run to finish";
    else if (!snap.active && snap.run && snap.run.state === "failed") msg.textContent = `Last run failed: ${snap.run.error}`;
    for (const st of snap.stages) {
      const li = $(`#pipeline [data-stage="${st.stage}"]`);
      if (li && li.dataset.state !== st.state) {
        li.className = `stage st-${st.state}`;
        li.dataset.state = st.state;
        const box = $(".stage-state", li);
        const word = document.createElement("span");
        word.className = "stage-word";
        word.textContent = st.word;
        box.replaceChildren(iconFor(st.state), word);
      }
      if (li) $(".stage-count", li).textContent = `${st.done}/${st.total}`;
      const row = $(`[data-stage-row="${st.stage}"]`);
      if (row) {
        const cell = $(".state-cell", row);
        if (cell.firstElementChild && cell.firstElementChild.dataset.state !== st.state) {
          cell.replaceChildren(chipFor(st.state, st.word));
        }
        $(".count-cell", row).textContent = `${st.done}/${st.total}`;
      }
    }
    root().dataset.active = snap.active ? "true" : "false";
  }

  function live() {
    const name = projectName();
    if (!name || source) return;
    source = new EventSource(`/api/projects/${encodeURIComponent(name)}/events`);
    source.addEventListener("status", (ev) => render(JSON.parse(ev.data)));
    source.addEventListener("end", (ev) => {
      source.close();
      source = null;
      const snap = JSON.parse(ev.data);
      render(snap);
      const run = snap.run;
      if (run && run.state === "failed") banner(`The run failed: ${run.error}`, [], "bad");
      else if (run && run.state === "stopped") toast("The run stopped");
      else if (run && run.state === "finished") toast("The run finished");
      if (snap.version !== loadedVersion() && !editorDirty()) {
        if (run && run.state === "finished") flash("The run finished");
        document.body.dataset.reloading = "1";
        setTimeout(() => location.reload(), 600);
      }
    });
    source.onerror = () => {
      // The browser reconnects by itself; say so only when the server is really gone.
      if (source && source.readyState === EventSource.CLOSED) toast("Lost contact with the studio", "bad");
    };
  }

  async function startRun(until) {
    const name = projectName();
    try {
      await api("POST", `/api/projects/${encodeURIComponent(name)}/run`, until ? { until } : {});
      toast("Run started");
      render({ ...(await api("GET", `/api/projects/${encodeURIComponent(name)}/status`)) });
      live();
    } catch (e) { toast(e.message, "bad"); }
  }

  function initProject() {
    const name = projectName();
    if (!name) return;
    $("#run-btn").addEventListener("click", () => startRun(null));
    $("#stop-btn").addEventListener("click", async () => {
      try {
        const r = await api("POST", `/api/projects/${encodeURIComponent(name)}/stop`);
        toast(r.stopping ? "Stopping: the run ends within a few seconds" : "Nothing is running");
      } catch (e) { toast(e.message, "bad"); }
    });
    onSubmit(".js-run-until", async (form) => startRun(new FormData(form).get("until")));
    if (root().dataset.active === "true") live();
    initEditor();
    initAssets(name);
    initScenes(name);
    onSubmit(".js-branch", async (form) => {
      const newName = new FormData(form).get("new_name") || null;
      const r = await api("POST", `/api/projects/${encodeURIComponent(name)}/branches`, { new_name: newName });
      flash(`Branch ${r.project} created`);
      goTo(r.project);
    });
  }

  // --- assets -----------------------------------------------------------------------------------------------
  function initAssets(name) {
    const base = `/api/projects/${encodeURIComponent(name)}/assets/`;
    for (const box of $$(".js-drop")) {
      box.addEventListener("change", async () => {
        const dropped = !box.checked;
        const url = `${base}${encodeURIComponent(box.dataset.asset)}/dropped`;
        try { after(await api("PUT", url, { dropped }), dropped ? "Dropped from the reference sheets" : "Back on the list"); } catch (e) {
          box.checked = !box.checked;
          failed(e, () => api("PUT", withBranch(url), { dropped }).then((r) => after(r, "Dropped")));
        }
      });
    }
    onSubmit(".js-regenerate", async (form) => {
      const note = new FormData(form).get("note") || "";
      await act("POST", `${base}${encodeURIComponent(form.dataset.asset)}/regenerate`, { note }, "Regenerating: a run started");
    });
    onSubmit(".js-upload", async (form) => {
      const f = new FormData(form);
      const file = f.get("file");
      if (!file || !file.name) throw new Error("choose an image first");
      if (file.size > 20 * 1024 * 1024) throw new Error(`${file.name} is over 20 MB`);
      await act("POST", `${base}${encodeURIComponent(form.dataset.asset)}/upload`, f, "Image uploaded as the reference");
    });
  }

  // --- scenes -----------------------------------------------------------------------------------------------
  function initScenes(name) {
    const put = (inst, body, done) => act("PUT",
      `/api/projects/${encodeURIComponent(name)}/scenes/${encodeURIComponent(inst.dataset.scene)}/instances/${encodeURIComponent(inst.dataset.asset)}`,
      body, done);
    for (const sel of $$(".js-derive")) {
      sel.addEventListener("change", () => put(sel.closest(".instance"), { derives_from: sel.value }, "Look source changed"));
    }
    for (const b of $$(".js-derive-default")) {
      b.addEventListener("click", () => put(b.closest(".instance"), { derives_from: "default" }, "Back to the default"));
    }
    for (const box of $$(".js-as-is")) {
      box.addEventListener("change", () => put(box.closest(".instance"), { use_reference_as_is: box.checked },
        box.checked ? "The reference is used as is" : "A state image will be drawn"));
    }
  }

  // --- screenplay editor: autosave at most once every 2 s while typing ----------------------------------------
  let editorDirty = () => false;

  function initEditor() {
    const ta = $("#screenplay");
    if (!ta) return;
    const stateEl = $("#save-state");
    const MIN_GAP = 2000;
    let saved = ta.value, saving = false, timer = null, lastSave = 0, blocked = false, branch = false, lastError = "";
    const dirty = () => ta.value !== saved;
    editorDirty = () => dirty() || saving;
    const show = (state, text) => { stateEl.dataset.state = state; stateEl.textContent = text; };

    function schedule() {
      if (timer || saving || blocked || !dirty()) return;
      timer = setTimeout(save, Math.max(MIN_GAP - (Date.now() - lastSave), 1000));
    }

    async function save() {
      timer = null;
      if (!dirty()) { show("saved", "Saved"); return; }
      saving = true;
      lastSave = Date.now();
      const text = ta.value;
      show("saving", "Saving…");
      try {
        const r = await api("PUT", branch ? withBranch(ta.dataset.endpoint) : ta.dataset.endpoint, { text });
        saved = text;
        lastError = "";
        show(dirty() ? "dirty" : "saved", dirty() ? "Unsaved changes" : "Saved");
        if (r.project && r.project !== projectName()) {
          saved = ta.value;
          flash(`Saved on the new branch ${r.project}`);
          goTo(r.project);
        }
      } catch (e) {
        if (e.kind === "locked") {
          blocked = true;
          show("error", "Not saved: the stage is locked");
          banner(e.message, [{
            label: "Create a branch and edit there", primary: true,
            run: () => { hideBanner(); blocked = false; branch = true; save(); },
          }]);
        } else {
          show("error", `Not saved: ${e.message}`);
          if (e.message !== lastError) toast(e.message, "bad");
          lastError = e.message;
        }
      } finally {
        saving = false;
        schedule();
      }
    }

    ta.addEventListener("input", () => {
      show(dirty() ? "dirty" : "saved", dirty() ? "Unsaved changes" : "Saved");
      schedule();
    });
    window.addEventListener("beforeunload", (ev) => {
      if (dirty() || saving) {
        ev.preventDefault();
        ev.returnValue = "";
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    showFlash();
    if ($(".page-dashboard")) initDashboard();
    initProject();
  });

  window.storyreel = { api, toast, banner };
})();
