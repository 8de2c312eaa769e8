// The admin pages' few behaviours, without a framework or inline scripts (the CSP forbids
// them): the profile editor's live preview, its paper search, and "unsaved" markers.
"use strict";
(function () {
  var DELAY_MS = 300;

  function debounce(fn) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, DELAY_MS);
    };
  }

  function setupPreview(form) {
    var picks = document.getElementById("preview-picks");
    var rated = document.getElementById("rated-papers");
    var frame = document.getElementById("preview-frame");
    var status = document.getElementById("preview-status");
    var state = document.getElementById("preview-state");
    var latest = 0;

    function refresh() {
      var mine = ++latest;
      status.textContent = "Updating the preview…";
      form.setAttribute("aria-busy", "true");
      fetch(form.dataset.previewUrl, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          if (response.redirected || response.url.indexOf("/login") !== -1) {
            throw new Error("signed out; reload the page and sign in");
          }
          return response.json();
        })
        .then(function (data) {
          if (mine !== latest) return; // a newer edit is on its way
          if (data.ok) {
            picks.innerHTML = data.picks_html; // escaped by the server's templates
            rated.innerHTML = data.rated_html;
            frame.src = data.frame_url;
            status.textContent = data.summary;
            status.classList.remove("error-text");
          } else {
            status.textContent = data.error;
            status.classList.add("error-text");
          }
        })
        .catch(function (error) {
          if (mine !== latest) return;
          status.textContent = "The preview failed: " + error.message;
          status.classList.add("error-text");
        })
        .finally(function () {
          if (mine === latest) form.removeAttribute("aria-busy");
        });
    }

    var later = debounce(refresh);
    form.addEventListener("input", function (event) {
      if (event.target.closest("[data-no-preview]")) return;
      state.hidden = false;
      later();
    });
    form.addEventListener("preview", refresh);
  }

  function setupPaperSearch(input, form) {
    var results = document.getElementById("paper-results");
    var search = debounce(function () {
      var query = input.value.trim();
      if (!query) {
        results.innerHTML = "";
        return;
      }
      var url = input.dataset.searchUrl + "?q=" + encodeURIComponent(query);
      fetch(url, { credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          if (input.value.trim() === query) results.innerHTML = html;
        });
    });
    input.addEventListener("input", search);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.preventDefault(); // do not save the form
    });
    results.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-add]");
      if (!button) return;
      var area = document.getElementById(button.dataset.add);
      var id = button.dataset.paperId;
      var lines = area.value.split("\n").map(function (l) { return l.trim(); }).filter(Boolean);
      if (lines.indexOf(id) === -1) lines.push(id);
      area.value = lines.join("\n");
      button.textContent = "Added";
      button.disabled = true;
      document.getElementById("preview-state").hidden = false;
      form.dispatchEvent(new Event("preview"));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-preview-url]");
    if (form) {
      setupPreview(form);
      var input = document.getElementById("paper-search");
      if (input) setupPaperSearch(input, form);
    }
  });
})();
