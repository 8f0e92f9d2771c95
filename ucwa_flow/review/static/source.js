/* ucwa-flow review: the source pane of a flow's page.
 *
 * Loaded before review.js, which shows a line through window.ucwaShowLine(line, file):
 * #location reads "file:line" and #L{line} of #source gets the class "current". #source
 * holds one file at a time, the flow file when the page opens. A flow made of several
 * files (includes, sub-flows) has a tab per file in #source-files; a line of another file
 * (a node's or edge's data-file, a problem's) fetches that file from the review app
 * (main's data-files + its path; the app serves the flow's own files and nothing else)
 * and swaps it into #source. The markup is listed in docs/review.md.
 */
(function () {
  "use strict";

  var main = document.querySelector("main.review");
  if (!main) {
    return;
  }
  var fileName = main.getAttribute("data-file") || "";
  var filesBase = main.getAttribute("data-files");
  var shownFile = fileName; // the file whose lines #source holds now
  var wanted = 0; // the latest choice of a file: an answer for an earlier one is dropped

  function q(selector) {
    return Array.prototype.slice.call(document.querySelectorAll(selector));
  }

  function fillSource(file, lines) {
    var pane = document.getElementById("source");
    if (!pane) {
      return;
    }
    var items = document.createDocumentFragment();
    lines.forEach(function (text, i) {
      var li = document.createElement("li");
      li.id = "L" + (i + 1);
      var code = document.createElement("code");
      code.textContent = text || " ";
      li.appendChild(code);
      items.appendChild(li);
    });
    pane.textContent = "";
    pane.appendChild(items);
    pane.setAttribute("data-file", file);
    shownFile = file;
    q("#source-files .source-file").forEach(function (tab) {
      tab.classList.toggle("current", tab.getAttribute("data-file") === file);
    });
  }

  function showFile(file, then) {
    var ticket = ++wanted;
    if (file === shownFile || !filesBase) {
      then();
      return;
    }
    var url = filesBase + file.split("/").map(encodeURIComponent).join("/");
    fetch(url, { cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (found) {
        if (ticket !== wanted) {
          return;
        }
        if (found) {
          fillSource(file, found.lines);
        }
        then();
      })
      .catch(function () {});
  }

  function markLine(line) {
    q("#source li.current").forEach(function (li) { li.classList.remove("current"); });
    var item = document.getElementById("L" + line);
    if (!item) {
      return;
    }
    item.classList.add("current");
    var pane = document.getElementById("source");
    if (pane && pane.scrollHeight > pane.clientHeight) {
      pane.scrollTop = Math.max(0, item.offsetTop - pane.clientHeight / 3);
    }
    item.scrollIntoView({ block: "nearest" });
  }

  function showLine(line, file) {
    file = file || fileName;
    var location = document.getElementById("location");
    if (location) {
      location.textContent = file + ":" + line;
    }
    showFile(file, function () {
      if (file === shownFile) {
        markLine(line);
      }
    });
  }

  q("#source-files .source-file").forEach(function (tab) {
    tab.addEventListener("click", function () {
      showFile(tab.getAttribute("data-file"), function () {});
    });
  });

  window.ucwaShowLine = showLine;
})();
