; Malipo's Windows installer, built on Debian with makensis (scripts/package --windows).
;
; Per user, without administrator rights: the programs go to %LOCALAPPDATA%\Programs\Malipo,
; shortcuts to the user's Start menu and desktop. The office's data (%APPDATA%\Malipo: the
; database, receipts, logs) is never touched by installing, updating or uninstalling.
;
; makensis -DVERSION=0.1.0 -DSTAGE=<folder with the three files> -DOUTFILE=<setup.exe> malipo.nsi

Unicode true
SetCompressor /SOLID lzma
RequestExecutionLevel user

!ifndef VERSION
  !error "give -DVERSION=x.y.z"
!endif
!ifndef STAGE
  !error "give -DSTAGE=<folder holding malipo-desktop.exe, malipo.exe and WebView2Loader.dll>"
!endif
!ifndef OUTFILE
  !define OUTFILE "Malipo_${VERSION}_x64-setup.exe"
!endif

!define APP "Malipo"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Malipo"
; The WebView2 runtime's client id (Microsoft's documented way to detect it).
!define WEBVIEW2_CLIENT "{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
; Microsoft's evergreen bootstrapper, fetched by the browser only on a machine without WebView2.
!define WEBVIEW2_DOWNLOAD "https://go.microsoft.com/fwlink/p/?LinkId=2124703"

Name "${APP} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${APP}"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
Icon "${STAGE}\icon.ico"
UninstallIcon "${STAGE}\icon.ico"
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${APP}"
VIAddVersionKey "FileDescription" "${APP} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "Malipo"

Page directory
Page instfiles
UninstPage uninstConfirm
UninstPage instfiles

Function WebView2Present
  ; Per machine (64-bit view of the 32-bit key) or per user.
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  StrCmp $0 "" 0 found
  ReadRegStr $0 HKCU "Software\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  StrCmp $0 "" 0 found
  StrCpy $0 ""
  Return
  found:
  StrCmp $0 "0.0.0.0" 0 +2
    StrCpy $0 ""
FunctionEnd

Section "Malipo"
  SetOutPath "$INSTDIR"
  File "${STAGE}\malipo-desktop.exe"
  File "${STAGE}\malipo.exe"
  File "${STAGE}\WebView2Loader.dll"
  File "${STAGE}\icon.ico"
  WriteUninstaller "$INSTDIR\Uninstall.exe"

  CreateDirectory "$SMPROGRAMS\${APP}"
  CreateShortcut "$SMPROGRAMS\${APP}\${APP}.lnk" "$INSTDIR\malipo-desktop.exe" "" "$INSTDIR\icon.ico"
  CreateShortcut "$SMPROGRAMS\${APP}\Uninstall ${APP}.lnk" "$INSTDIR\Uninstall.exe"
  CreateShortcut "$DESKTOP\${APP}.lnk" "$INSTDIR\malipo-desktop.exe" "" "$INSTDIR\icon.ico"

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "Malipo"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\icon.ico"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1

  ; Windows 11 has WebView2; a Windows 10 machine may not. Malipo's window needs it.
  Call WebView2Present
  StrCmp $0 "" 0 webview_ok
    MessageBox MB_YESNO|MB_ICONEXCLAMATION "Malipo needs Microsoft's WebView2 runtime, which this computer does not have yet.$\r$\n$\r$\nOpen Microsoft's download of it now? (Run it, then start Malipo.)" IDNO webview_ok
    ExecShell "open" "${WEBVIEW2_DOWNLOAD}"
  webview_ok:
SectionEnd

Section "Uninstall"
  ; The office's data in %APPDATA%\Malipo stays: payments and receipts are records to keep.
  Delete "$INSTDIR\malipo-desktop.exe"
  Delete "$INSTDIR\malipo.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\icon.ico"
  Delete "$INSTDIR\Uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${APP}\${APP}.lnk"
  Delete "$SMPROGRAMS\${APP}\Uninstall ${APP}.lnk"
  RMDir "$SMPROGRAMS\${APP}"
  Delete "$DESKTOP\${APP}.lnk"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
SectionEnd
