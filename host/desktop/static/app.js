// Shared behaviour: live-stream marker, toasts, and the containers list's search, sort and
// selection (kept across the live re-renders the server pushes).
"use strict";

document.body.addEventListener("htmx:sseOpen", () => { document.body.dataset.live = "1"; });
document.body.addEventListener("htmx:sseError", () => { delete document.body.dataset.live; });

// Toasts fade after a while; errors stay until dismissed.
new MutationObserver((changes) => {
  for (const change of changes) {
    for (const node of change.addedNodes) {
      if (node.classList && node.classList.contains("toast") && !node.classList.contains("error")) {
        setTimeout(() => node.remove(), 5000);
      }
    }
  }
}).observe(document.getElementById("toasts"), { childList: true });

const rowsBody = document.getElementById("rows");
if (document.body.dataset.page === "containers" && rowsBody) {
  const filter = document.getElementById("filter");
  const sort = document.getElementById("sort");
  const bulk = document.getElementById("bulk");
  const selectAll = document.getElementById("select-all");
  let selected = new Set();
  const collapsed = new Set();  // compose projects folded by the user

  const boxes = () => rowsBody.querySelectorAll("input[name=id]");
  const apply = () => {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const key = sort.value;
    const groups = new Map();
    for (const row of rowsBody.querySelectorAll("tr.row")) {
      const text = row.dataset.search.toLowerCase();
      row.hidden = !words.every((w) => text.includes(w)) || collapsed.has(row.dataset.project);
      const group = row.dataset.project;
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push(row);
    }
    // The server sends each group newest first: reorder only for another sort.
    for (const [project, rows] of key === "created" ? [] : groups) {
      rows.sort((a, b) => key === "created" ? b.dataset.created - a.dataset.created
        : a.dataset[key].localeCompare(b.dataset[key]));
      let anchor = project ? rowsBody.querySelector(`tr.group[data-project="${CSS.escape(project)}"]`) : null;
      for (const row of rows) {
        if (anchor) anchor.after(row); else rowsBody.append(row);  // loose ones come last
        anchor = row;
      }
    }
    for (const header of rowsBody.querySelectorAll("tr.group")) {
      const rows = groups.get(header.dataset.project) || [];
      if (!rows.length) { header.remove(); continue; }
      const running = rows.filter((r) => r.dataset.state === "running").length;
      header.querySelector(".count").textContent = `${running}/${rows.length} running`;
      header.hidden = !collapsed.has(header.dataset.project) && rows.every((r) => r.hidden);
      header.classList.toggle("collapsed", collapsed.has(header.dataset.project));
    }
    rowsBody.querySelector("tr.empty").hidden = groups.size > 0;
    for (const box of boxes()) box.checked = selected.has(box.value);
    bulk.classList.toggle("shown", selected.size > 0);
    document.getElementById("selected-count").textContent = `${selected.size} selected`;
  };
  rowsBody.addEventListener("change", (e) => {
    if (e.target.name !== "id") return;
    if (e.target.checked) selected.add(e.target.value); else selected.delete(e.target.value);
    apply();
  });
  selectAll.addEventListener("change", () => {
    selected = new Set();
    if (selectAll.checked) for (const box of boxes()) if (!box.closest("tr").hidden) selected.add(box.value);
    apply();
  });
  // A container's event pushes only its row: replace it, or put a new one first in its group.
  const groupHeader = (project) => {
    let header = rowsBody.querySelector(`tr.group[data-project="${CSS.escape(project)}"]`);
    if (header) return header;
    header = document.createElement("tr");
    header.className = "group";
    header.dataset.project = project;
    header.innerHTML = '<td></td><td colspan="5"><span class="caret">▾</span> <b></b> <span class="muted">compose · <span class="count"></span></span></td>';
    header.querySelector("b").textContent = project;
    const after = [...rowsBody.querySelectorAll("tr.group")].find((h) => h.dataset.project > project);
    rowsBody.insertBefore(header, after || rowsBody.querySelector('tr.row[data-project=""]') || rowsBody.querySelector("tr.empty"));
    return header;
  };
  const inbox = document.getElementById("row-inbox");
  inbox.addEventListener("htmx:sseMessage", () => {
    for (const row of [...inbox.children]) {
      const old = rowsBody.querySelector(`#${CSS.escape(row.id)}`);
      if (old) { old.replaceWith(row); continue; }
      const project = row.dataset.project;
      if (project) groupHeader(project).after(row);
      else rowsBody.insertBefore(row, rowsBody.querySelector('tr.row[data-project=""]') || rowsBody.querySelector("tr.empty"));
    }
    apply();
  });
  const outbox = document.getElementById("row-outbox");
  outbox.addEventListener("htmx:sseMessage", () => {
    for (const gone of [...outbox.children]) {
      const row = rowsBody.querySelector(`tr.row[data-id="${CSS.escape(gone.dataset.id)}"]`);
      if (row) row.remove();
      selected.delete(gone.dataset.id);
    }
    outbox.replaceChildren();
    apply();
  });
  rowsBody.addEventListener("htmx:sseMessage", () => {
    const present = new Set([...boxes()].map((b) => b.value));
    selected = new Set([...selected].filter((id) => present.has(id)));
    apply();
  });
  rowsBody.addEventListener("click", (e) => {
    const group = e.target.closest("tr.group");
    if (!group) return;
    const project = group.dataset.project;
    if (collapsed.has(project)) collapsed.delete(project); else collapsed.add(project);
    apply();
  });
  // One listener for every row's buttons (fewer elements for htmx to process per render).
  rowsBody.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-action]");
    if (!button) return;
    if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
    htmx.ajax("POST", "/containers/action", {
      values: { id: button.closest("tr").dataset.id, action: button.dataset.action }, swap: "none",
    });
  });
  bulk.addEventListener("htmx:afterRequest", () => { selected.clear(); selectAll.checked = false; apply(); });
  filter.addEventListener("input", apply);
  sort.addEventListener("change", apply);
  apply();
}
