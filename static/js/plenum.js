/* Plenum's small progressive enhancements. Every page works without this file:
 * - ranking ballots become a sortable list (drag and drop, Up/Down buttons, Alt+Arrow keys),
 *   keeping the position <select>s (the no-JavaScript form) in sync;
 * - sliders and number inputs mirror each other;
 * - budget ballots show the remaining budget as you type;
 * - "Copy" buttons copy a link or token;
 * - live results (htmx ws extension) never step back to an older version, and say whether they are live.
 * Content swapped in by htmx is enhanced too (htmx.onLoad).
 */
(function () {
  "use strict";

  function announce(root, text) {
    var status = root.querySelector("[data-rank-status]");
    if (status) {
      status.textContent = "";
      window.setTimeout(function () { status.textContent = text; }, 30);
    }
  }

  /* ---- Ranking ---- */

  function rankItems(list) {
    return Array.prototype.slice.call(list.querySelectorAll(":scope > .rank-item"));
  }

  function syncRanking(root) {
    var list = root.querySelector(".rank-list");
    var items = rankItems(list);
    items.forEach(function (item, index) {
      var position = String(index + 1);
      item.querySelector(".rank-select").value = position;
      item.querySelector(".rank-position").textContent = position;
      var label = item.dataset.label;
      item.setAttribute("aria-label", label + ", position " + position + " of " + items.length);
      var up = item.querySelector("[data-move=up]");
      var down = item.querySelector("[data-move=down]");
      up.disabled = index === 0;
      down.disabled = index === items.length - 1;
    });
  }

  function move(root, item, delta, keepFocusOn) {
    var list = item.parentNode;
    var items = rankItems(list);
    var index = items.indexOf(item);
    var target = index + delta;
    if (target < 0 || target >= items.length) { return; }
    if (delta < 0) {
      list.insertBefore(item, items[target]);
    } else {
      list.insertBefore(item, items[target].nextSibling);
    }
    syncRanking(root);
    (keepFocusOn || item).focus();
    announce(root, item.dataset.label + " moved to position " + (target + 1) + " of " + items.length + ".");
  }

  function enhanceRanking(root) {
    if (root.classList.contains("enhanced")) { return; }
    root.classList.add("enhanced");
    var list = root.querySelector(".rank-list");
    list.setAttribute("role", "list");
    rankItems(list).forEach(function (item) {
      var label = item.dataset.label;
      item.tabIndex = 0;
      item.draggable = true;
      var grip = document.createElement("span");
      grip.className = "rank-grip";
      grip.setAttribute("aria-hidden", "true");
      grip.textContent = "⠿";
      item.insertBefore(grip, item.firstChild);
      ["up", "down"].forEach(function (direction) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "button small rank-move";
        button.dataset.move = direction;
        button.setAttribute("aria-label", "Move " + label + " " + direction);
        button.textContent = direction === "up" ? "↑" : "↓";
        button.addEventListener("click", function () {
          move(root, item, direction === "up" ? -1 : 1, button.disabled ? item : button);
          if (button.disabled) { item.focus(); }
        });
        item.appendChild(button);
      });
      item.addEventListener("keydown", function (event) {
        if (event.target !== item) { return; }
        if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
          event.preventDefault();
          move(root, item, event.key === "ArrowUp" ? -1 : 1);
        } else if (!event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
          var items = rankItems(list);
          var next = items[items.indexOf(item) + (event.key === "ArrowUp" ? -1 : 1)];
          if (next) { event.preventDefault(); next.focus(); }
        }
      });
      item.addEventListener("dragstart", function (event) {
        item.classList.add("dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", item.dataset.key);
      });
      item.addEventListener("dragend", function () {
        item.classList.remove("dragging");
        rankItems(list).forEach(function (other) { other.classList.remove("drop-target"); });
        syncRanking(root);
      });
      item.addEventListener("dragover", function (event) {
        var dragging = list.querySelector(".dragging");
        if (!dragging || dragging === item) { return; }
        event.preventDefault();
        var box = item.getBoundingClientRect();
        var after = event.clientY > box.top + box.height / 2;
        list.insertBefore(dragging, after ? item.nextSibling : item);
      });
      item.addEventListener("drop", function (event) {
        event.preventDefault();
        var dragging = list.querySelector(".dragging");
        if (dragging) {
          syncRanking(root);
          var position = rankItems(list).indexOf(dragging) + 1;
          announce(root, dragging.dataset.label + " dropped at position " + position + ".");
        }
      });
    });
    syncRanking(root);
  }

  /* ---- Slider + number pairs ---- */

  function enhanceSync(row) {
    if (row.dataset.synced) { return; }
    row.dataset.synced = "1";
    var range = row.querySelector("[data-sync-range]");
    var number = row.querySelector("[data-sync-number]");
    if (!range || !number) { return; }
    range.addEventListener("input", function () {
      number.value = range.value;
      number.dispatchEvent(new Event("input", { bubbles: true }));
    });
    number.addEventListener("input", function () {
      if (number.value !== "" && !isNaN(Number(number.value))) { range.value = number.value; }
    });
  }

  /* ---- Budget ---- */

  function formatAmount(value) {
    return String(Math.round(value * 100) / 100);
  }

  function updateBudget(root) {
    var total = Number(root.dataset.total);
    var sum = 0;
    var bad = false;
    root.querySelectorAll("[data-amount]").forEach(function (input) {
      if (input.value === "") { return; }
      var value = Number(input.value);
      if (isNaN(value) || value < 0) { bad = true; } else { sum += value; }
    });
    var status = root.querySelector("[data-budget-status]");
    var remaining = total - sum;
    status.classList.remove("over", "exact");
    if (bad) {
      status.textContent = "Amounts must be numbers of at least 0.";
      status.classList.add("over");
    } else if (Math.abs(remaining) < 1e-9) {
      status.textContent = "All " + formatAmount(total) + " allocated.";
      status.classList.add("exact");
    } else if (remaining > 0) {
      status.textContent = "Remaining: " + formatAmount(remaining) + " of " + formatAmount(total) + ".";
    } else {
      status.textContent = "Over budget by " + formatAmount(-remaining) + " (total " + formatAmount(total) + ").";
      status.classList.add("over");
    }
  }

  function enhanceBudget(root) {
    if (root.dataset.enhanced) { return; }
    root.dataset.enhanced = "1";
    root.addEventListener("input", function () { updateBudget(root); });
    updateBudget(root);
  }

  /* ---- Copy buttons ---- */

  function enhanceCopy(button) {
    if (button.dataset.enhanced) { return; }
    button.dataset.enhanced = "1";
    button.addEventListener("click", function () {
      var input = document.querySelector(button.dataset.copy);
      var status = button.parentNode.parentNode.querySelector("[data-copy-status]");
      input.select();
      var done = function () { if (status) { status.textContent = "Copied."; } };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          if (status) { status.textContent = "Select the text and copy it."; }
        });
      } else {
        try { document.execCommand("copy"); done(); } catch (error) {
          if (status) { status.textContent = "Select the text and copy it."; }
        }
      }
    });
  }

  /* ---- Live results ---- */

  // Each websocket message is swapped in by element id; the page keeps the newest version it has,
  // unless the message resets it (the organizer changed who may see results).
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var html = String(event.detail.message || "");
    if (/^<[^>]*\bdata-reset="true"/.test(html.trim())) {
      return;
    }
    var id = /\bid="([^"]+)"/.exec(html);
    var version = /\bdata-version="(\d+)"/.exec(html);
    var current = id && document.getElementById(id[1]);
    if (current && version && current.dataset.version &&
        parseInt(current.dataset.version, 10) >= parseInt(version[1], 10)) {
      event.preventDefault();
    }
  });

  function liveStatus(event, text, state) {
    var status = event.target.querySelector ? event.target.querySelector("[data-live-status]") : null;
    if (status) {
      status.textContent = text;
      status.dataset.state = state;
    }
  }
  document.addEventListener("htmx:wsOpen", function (event) {
    liveStatus(event, "Live: this page updates itself when something changes.", "open");
  });
  document.addEventListener("htmx:wsClose", function (event) {
    liveStatus(event, "Live updates paused: reconnecting… Reload the page if this stays.", "closed");
  });

  function enhance(root) {
    root.querySelectorAll("[data-ranking]").forEach(enhanceRanking);
    root.querySelectorAll("[data-sync]").forEach(enhanceSync);
    root.querySelectorAll("[data-budget]").forEach(enhanceBudget);
    root.querySelectorAll("[data-copy]").forEach(enhanceCopy);
  }

  if (window.htmx) {
    window.htmx.onLoad(function (element) { enhance(element.querySelectorAll ? element : document); });
  } else {
    document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  }
})();
