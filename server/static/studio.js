// The studio's autosave (docs/studio.md). Progressive: every form on the page works without this
// script (it posts and the server draws the page again). Where it runs, an edit is saved as you
// type through the JSON API (/studio/api/...), naming the draft revision it started from in
// If-Match, and the live check's problems are shown at once. A stale revision (someone else saved
// in between) is not overwritten: the page says who changed what and offers to reload.
(function () {
  "use strict";
  var token = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var status = document.getElementById("save-status");
  var pending = null;
  var busy = false;

  function say(text, bad) {
    if (!status) return;
    status.textContent = text;
    status.className = bad ? "bad" : "";
  }

  function revision() {
    var field = document.querySelector("input.rev");
    return field ? field.value : "0";
  }

  function setRevision(n) {
    document.querySelectorAll("input.rev").forEach(function (f) { f.value = String(n); });
    var shown = document.getElementById("revision-shown");
    if (shown) shown.textContent = String(n);
  }

  function texts(form, prefix) {
    var out = {};
    form.querySelectorAll("[name^='" + prefix + "']").forEach(function (f) {
      out[f.name.slice(prefix.length)] = f.value;
    });
    return out;
  }

  // The same edit as server/studio/pages.py op_from_form makes of the form without a script.
  function opOf(form) {
    var op = form.querySelector("[name=op]").value;
    if (op === "set_guide") {
      var icon = form.querySelector("[name=icon]:checked");
      return {op: op, title: texts(form, "title-"), category: texts(form, "category-"),
              help: texts(form, "help-"), start: form.querySelector("[name=start]").value,
              icon: icon ? icon.value : ""};
    }
    var choices = [];
    var count = parseInt(form.querySelector("[name=choices]").value, 10);
    for (var n = 0; n < count; n++) {
      var label = texts(form, "c" + n + "-label-");
      var target = form.querySelector("[name='c" + n + "-target']").value;
      var del = form.querySelector("[name='c" + n + "-delete']");
      var any = Object.keys(label).some(function (k) { return label[k].trim(); });
      if ((del && del.checked) || (!any && !target)) continue;
      var parts = target.split(":");
      var choice = {label: label};
      choice[parts[0] === "guide" ? "guide" : "next"] = parts.slice(1).join(":");
      choices.push(choice);
    }
    return {op: op, step: form.querySelector("[name=step]").value, text: texts(form, "text-"),
            end: form.querySelector("[name=end]").value || null, choices: choices,
            image: form.querySelector("[name=image]").value || null, image_alt: texts(form, "alt-")};
  }

  function showProblems(problems, stepId) {
    var list = document.getElementById("problem-list");
    var head = document.getElementById("gp-h");
    var box = document.getElementById("guide-problems");
    var here = document.getElementById("step-problems");
    if (list) {
      list.innerHTML = "";
      problems.forEach(function (p) {
        var li = document.createElement("li");
        li.dataset.step = p.step || "";
        li.textContent = (p.step ? "step '" + p.step + "': " : "") + p.message;
        list.appendChild(li);
      });
    }
    if (head) head.textContent = problems.length ? problems.length + " problem(s) in this guide"
                                                 : "No problems: this guide can be published";
    if (box) box.classList.toggle("none", !problems.length);
    // The list of steps and the tree: a count beside each step, a red outline on its box.
    var counts = {};
    problems.forEach(function (p) { if (p.step) counts[p.step] = (counts[p.step] || 0) + 1; });
    document.querySelectorAll("small.step-count").forEach(function (el) {
      var n = counts[el.dataset.step] || 0;
      el.textContent = n ? n + " problem(s)" : "";
    });
    document.querySelectorAll("svg g.step").forEach(function (g) {
      var rect = g.querySelector("rect");
      if (!rect || g.dataset.step.indexOf("guide:") === 0) return;
      var bad = !!counts[g.dataset.step];
      rect.setAttribute("stroke", bad ? "#c0392b" : "#9fb4c9");
      rect.setAttribute("stroke-width", bad ? "2" : "1");
    });
    if (here && stepId) {
      here.innerHTML = "";
      problems.filter(function (p) { return p.step === stepId; }).forEach(function (p) {
        var li = document.createElement("li");
        li.textContent = p.message;
        here.appendChild(li);
      });
    }
  }

  function save(form, reload) {
    if (busy) { pending = [form, reload]; return; }
    busy = true;
    say("saving…");
    fetch(form.dataset.api, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token, "If-Match": '"' + revision() + '"'},
      body: JSON.stringify(opOf(form))
    }).then(function (r) {
      return r.json().then(function (body) { return [r.status, body]; });
    }).then(function (res) {
      var code = res[0], body = res[1];
      if (code === 200) {
        setRevision(body.revision);
        showProblems(body.problems, form.dataset.step);
        say("saved (revision " + body.revision + ")");
        if (reload) window.location.reload();
      } else if (code === 412) {
        say(body.detail + " Reload the page to go on.", true);
      } else {
        say("not saved: " + (body.detail || code), true);
      }
    }).catch(function () {
      say("not saved: the server cannot be reached; your text is still here", true);
    }).then(function () {
      busy = false;
      if (pending) { var next = pending; pending = null; save(next[0], next[1]); }
    });
  }

  // A field's "missing" mark follows what is typed in it.
  function markMissing(field) {
    var label = document.querySelector("label[for='" + field.id + "']");
    if (!label || !/^(text|title|c\d+-label|alt)-/.test(field.id)) return;
    if (field.closest("fieldset.answer") && !field.closest("fieldset.answer").querySelector("[name$='-delete']")) return;
    var tag = label.querySelector(".missing-tag");
    if (!field.value.trim() && !tag) {
      tag = document.createElement("span");
      tag.className = "missing-tag";
      tag.textContent = /^alt-/.test(field.id) ? "none" : "missing";
      label.appendChild(document.createTextNode(" "));
      label.appendChild(tag);
    } else if (field.value.trim() && tag) {
      tag.remove();
    }
  }

  document.querySelectorAll("form.autosave").forEach(function (form) {
    if (!form.dataset.api || form.querySelector("fieldset[disabled]")) return;
    var timer = null;
    form.addEventListener("input", function (e) {
      if (e.target.tagName === "SELECT" || e.target.type === "checkbox") return;
      // an icon picked: its summary names it (the picker stays open for the arrow keys)
      var shown = e.target.type === "radio" && e.target.closest("details") &&
        e.target.closest("details").querySelector(".icon-shown");
      if (shown) shown.textContent = e.target.value || "none";
      markMissing(e.target);
      clearTimeout(timer);
      timer = setTimeout(function () { save(form, false); }, 400);
    });
    form.addEventListener("change", function (e) {
      if (e.target.tagName !== "SELECT" && e.target.type !== "checkbox") return;
      clearTimeout(timer);
      // A new answer or a deleted one changes the form's rows: the page is drawn again after saving.
      var structural = e.target.type === "checkbox" || /^c\d+-target$/.test(e.target.name) &&
        e.target.closest("fieldset.answer") && !e.target.closest("fieldset.answer").querySelector("[name$='-delete']");
      save(form, !!structural || e.target.name === "start" || e.target.name === "end" ||
                 e.target.name === "image");
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      clearTimeout(timer);
      save(form, true);
    });
  });
})();
