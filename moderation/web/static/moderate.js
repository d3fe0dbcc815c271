/*
 * Moderation: keyboard shortcuts and bulk selection for the moderators' pages.
 *
 * Everything here is a convenience over plain forms: each shortcut submits the same form a
 * button does (with its CSRF token), so the server has one path for every action, and the
 * pages work without this script.
 *
 *   j / k   next / previous comment        a   approve        s   mark spam
 *   x       select or unselect it          h   mark not spam  t   trash
 *   o       open it                        u   undo the last action
 *   ?       show or hide the help
 */
(function () {
  "use strict";

  var current = null;

  function items() {
    return Array.prototype.slice.call(document.querySelectorAll(".item[data-id]"));
  }

  function setCurrent(item, scroll) {
    if (!item) return;
    if (current && current !== item) current.classList.remove("is-current");
    current = item;
    item.classList.add("is-current");
    if (scroll) {
      item.focus({ preventScroll: true });
      item.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    var all = items();
    if (!all.length) return;
    var index = all.indexOf(current);
    var next = index < 0 ? 0 : Math.min(Math.max(index + step, 0), all.length - 1);
    setCurrent(all[next], true);
  }

  function act(action) {
    if (!current) return;
    var button = current.querySelector('button[name="action"][value="' + action + '"]');
    if (!button || !button.form || button.disabled) return;
    if (button.form.requestSubmit) button.form.requestSubmit(button);
    else button.click();
  }

  function undo() {
    var button = document.querySelector("form[data-undo] button, form[data-undo-item] button");
    if (button && !button.disabled) button.click();
  }

  function toggleSelection() {
    if (!current) return;
    var box = current.querySelector('input[name="ids"]');
    if (!box) return;
    box.checked = !box.checked;
    updateCount();
  }

  function open() {
    if (!current) return;
    var link = current.querySelector("a.open");
    if (link) window.location.assign(link.href);
  }

  function toggleHelp() {
    var help = document.getElementById("shortcuts");
    if (help) help.open = !help.open;
  }

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    if (target.isContentEditable) return true;
    if (tag === "textarea" || tag === "select") return true;
    if (tag !== "input") return false;
    var type = (target.getAttribute("type") || "text").toLowerCase();
    return ["checkbox", "radio", "button", "submit", "reset"].indexOf(type) < 0;
  }

  var keys = {
    j: function () { move(1); },
    k: function () { move(-1); },
    a: function () { act("approve"); },
    s: function () { act("spam"); },
    h: function () { act("ham"); },
    t: function () { act("trash"); },
    x: toggleSelection,
    o: open,
    u: undo,
    "?": toggleHelp
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var handler = Object.prototype.hasOwnProperty.call(keys, event.key) ? keys[event.key] : null;
    if (!handler) return;
    event.preventDefault();
    handler();
  });

  // Bulk selection: "select all" and a count of what is selected.
  var selectAll = document.getElementById("select-all");
  var countLabel = document.querySelector(".bulkbar .selected-count");

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll('input[name="ids"][form="bulk"]'));
  }

  function updateCount() {
    var all = boxes();
    var chosen = all.filter(function (box) { return box.checked; }).length;
    if (countLabel) countLabel.textContent = chosen ? chosen + " selected" : "Selected";
    if (selectAll) {
      selectAll.checked = all.length > 0 && chosen === all.length;
      selectAll.indeterminate = chosen > 0 && chosen < all.length;
    }
  }

  if (selectAll) {
    selectAll.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = selectAll.checked; });
      updateCount();
    });
  }
  boxes().forEach(function (box) { box.addEventListener("change", updateCount); });

  // A click anywhere in an item makes it the current one.
  items().forEach(function (item) {
    item.addEventListener("click", function () { setCurrent(item, false); });
  });

  // Start on the item the server pointed at after an action (#c-ID), else on the first one.
  var start = null;
  if (window.location.hash.indexOf("#c-") === 0) {
    start = document.getElementById(window.location.hash.slice(1));
  }
  var all = items();
  if (!start && all.length) start = all[0];
  if (start && start.classList.contains("item")) setCurrent(start, all.length > 1);
  updateCount();
})();
